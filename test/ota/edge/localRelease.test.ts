import { promises as fs } from "fs";
import * as path from "path";
import { EdgeUsageError, LocalIoError } from "../../../ota/edge/errors";
import { rollback, status } from "../../../ota/edge/localRelease";
import { readState } from "../../../ota/edge/stateStore";
import { EdgeWorld, currentLinkTarget, snapshot, MODEL } from "./fakes/edgeWorld";

let world: EdgeWorld;
beforeAll(async () => {
  world = await EdgeWorld.start();
});
afterAll(async () => {
  await world.close();
});

const linkOf = (v: number): string => `versions/${String(v).padStart(10, "0")}`;

/** A box that installed two releases, the second current. */
async function boxWithTwoReleases() {
  const dest = await world.newDest();
  const first = await world.publish();
  await world.pull(dest);
  const second = await world.publish();
  await world.pull(dest);
  return { dest, first, second };
}

describe("rollback", () => {
  it("goes back one version: current → the previous version, whose files are the ones it had", async () => {
    const { dest, first, second } = await boxWithTwoReleases();
    const result = await rollback(dest);
    expect(result).toMatchObject({ modelName: MODEL, from: second.version, to: first.version, highestVersion: second.version });
    expect(await currentLinkTarget(dest)).toBe(linkOf(first.version));
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(first.onnx);
    expect(await readState(dest)).toMatchObject({ currentVersion: first.version, highestVersion: second.version, rolledBackFrom: second.version });
    expect((await readState(dest))?.previousVersion).toBeUndefined();
  });

  it("holds: a pull does not reinstall the version rolled back from, and the next release above it installs", async () => {
    const { dest, first, second } = await boxWithTwoReleases();
    await rollback(dest);
    const held = await world.pull(dest);
    expect(held).toMatchObject({ status: "up-to-date", version: second.version, currentVersion: first.version });
    expect(held.warnings.join("\n")).toMatch(new RegExp(`current is version ${first.version} after a rollback; version ${second.version} is not installed again`));
    expect(await currentLinkTarget(dest)).toBe(linkOf(first.version));

    const third = await world.publish();
    const installed = await world.pull(dest);
    expect(installed).toMatchObject({ status: "installed", version: third.version, previousVersion: first.version });
    // The version rolled back from is pruned; the one that ran before the install is kept.
    expect((await fs.readdir(path.join(dest, "versions"))).sort()).toEqual([linkOf(first.version), linkOf(third.version)].map((l) => l.slice("versions/".length)));
  });

  it("goes back one version only: a second rollback is refused and changes nothing", async () => {
    const { dest, second } = await boxWithTwoReleases();
    await rollback(dest);
    const before = await snapshot(dest);
    const error = await rollback(dest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeUsageError);
    expect((error as Error).message).toContain(`already rolled back from version ${second.version}`);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("refuses when only one version was ever installed", async () => {
    const dest = await world.newDest();
    await world.publish();
    await world.pull(dest);
    await expect(rollback(dest)).rejects.toThrow(/no earlier version was installed here/);
  });

  it("refuses to switch to a previous version damaged on disk, and leaves current alone", async () => {
    const { dest, first, second } = await boxWithTwoReleases();
    const damaged = path.join(dest, linkOf(first.version), "model.onnx");
    await fs.appendFile(damaged, "x");
    const error = await rollback(dest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalIoError);
    expect((error as Error).message).toMatch(/is damaged on disk/);
    expect(await currentLinkTarget(dest)).toBe(linkOf(second.version));
  });

  it("says a folder where nothing was pulled has nothing to roll back", async () => {
    const dest = await world.newDest();
    await expect(rollback(dest)).rejects.toThrow(/does not exist: nothing was ever pulled there/);
    await fs.mkdir(dest, { recursive: true });
    await expect(rollback(dest)).rejects.toThrow(/Nothing is installed in/);
  });
});

describe("status", () => {
  it("reports the model, current, previous, floor, expiry and files without changing anything", async () => {
    const { dest, first, second } = await boxWithTwoReleases();
    const before = await snapshot(dest);
    const found = await status(dest);
    expect(found).toMatchObject({ modelName: MODEL, channel: "stable", currentVersion: second.version, previousVersion: first.version, highestVersion: second.version, expired: false });
    expect(found?.versionsOnDisk).toEqual([first.version, second.version]);
    expect(found?.manifest.files.map((f) => [f.path, f.length])).toEqual([
      ["model.onnx", second.onnx.length],
      ["model.pt", second.pt!.length],
    ]);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("flags an installed release whose manifest has expired", async () => {
    const { dest } = await boxWithTwoReleases();
    const found = await status({ dest, now: () => new Date(Date.now() + 365 * 86_400_000) });
    expect(found?.expired).toBe(true);
  });

  it("is undefined for an empty folder", async () => {
    const dest = await world.newDest();
    await fs.mkdir(dest, { recursive: true });
    expect(await status(dest)).toBeUndefined();
  });
});
