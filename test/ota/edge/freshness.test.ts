/**
 * Issue 10, item 4: a frozen view shows within hours. With the root key pinned, a box reads the
 * signed `timestamp.json` the stack's function re-signs every few hours, and refuses (exit 7,
 * nothing installed) a view whose timestamp expired, was replayed, or says the channel is newer
 * than the pointer served; `edge status` shows the freshness and exits 7 while the view is stale.
 * With only the release key pinned (before), each of these views installs or reports nothing.
 */
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { StaleViewError, VerificationRefusedError } from "../../../ota/edge/errors";
import { status } from "../../../ota/edge/localRelease";
import { LocalKeySigner } from "../../../ota/signature";
import { runYoloTrain } from "./fakes/cliProcess";
import { BUCKET, MODEL, snapshot } from "./fakes/edgeWorld";
import { TrustWorld } from "./fakes/trustWorld";

const HOUR = 3_600_000;
let world: TrustWorld;
beforeAll(async () => {
  world = await TrustWorld.start();
  await world.writeRoot({ version: 1 });
});
afterAll(async () => {
  await world.close();
});

/** The error a promise ends with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected the pull to fail");
    },
    (e: unknown) => e as Error,
  );
}

/** A box that installed the current stable release under a fresh timestamp. */
async function boxOnStable() {
  const release = await world.edge.publish();
  await world.writeTimestamp({ channels: { stable: release.version } });
  const dest = await world.edge.newDest();
  expect((await world.pull(dest)).status).toBe("installed");
  return { dest, release };
}

describe("a fresh view", () => {
  it("installs, says which root and timestamp vouched for it, and status calls it fresh", async () => {
    const release = await world.edge.publish();
    const issuedAt = new Date();
    await world.writeTimestamp({ issuedAt, channels: { stable: release.version } });
    const dest = await world.edge.newDest();
    const result = await world.pull(dest);
    expect(result).toMatchObject({ status: "installed", version: release.version, trust: { rootVersion: 1, timestampIssuedAt: issuedAt.toISOString() } });
    expect((await status(dest))?.view).toEqual({
      rootVersion: 1,
      timestampIssuedAt: issuedAt.toISOString(),
      timestampExpires: new Date(issuedAt.getTime() + 24 * HOUR).toISOString(),
      lastCheck: { at: expect.any(String), outcome: "fresh", channel: "stable" },
      fresh: true,
    });
  });

  it("accepts a pointer newer than the timestamp: a release published since the last refresh installs at once", async () => {
    const { dest } = await boxOnStable();
    const next = await world.edge.publish();
    expect(await world.pull(dest)).toMatchObject({ status: "installed", version: next.version });
  });
});

describe("a frozen view is refused with exit 7, nothing installed", () => {
  it("refuses an expired timestamp (the mirror or the refresh stopped), even when the box is up to date, and status turns stale", async () => {
    const { dest } = await boxOnStable();
    const before = await snapshot(path.join(dest, "versions"));
    const later = new Date(Date.now() + 25 * HOUR);
    const error = await failure(world.pull(dest, { now: () => later }));
    expect(error).toBeInstanceOf(StaleViewError);
    expect((error as StaleViewError).exitCode).toBe(7);
    expect(error.message).toMatch(/the timestamp expired at .* this view of the bucket may be frozen/);
    expect(await snapshot(path.join(dest, "versions"))).toEqual(before);
    const view = (await status({ dest, now: () => later }))?.view;
    expect(view).toMatchObject({ fresh: false, lastCheck: { outcome: "stale", problem: expect.stringMatching(/the timestamp expired/) } });
    // Before the last check said so, the clock alone makes status stale: the timestamp no longer vouches for anything.
    expect((await status({ dest, now: () => new Date(Date.now() + 30 * HOUR) }))?.view?.fresh).toBe(false);
  });

  it("refuses a replayed older timestamp after a newer one was accepted", async () => {
    const { dest, release } = await boxOnStable();
    const old = await world.writeTimestamp({ issuedAt: new Date(Date.now() - 2 * HOUR), channels: { stable: release.version } });
    await world.writeTimestamp({ issuedAt: new Date(), channels: { stable: release.version } });
    expect((await world.pull(dest)).status).toBe("up-to-date");
    await world.edge.putObject(world.key("timestamp.json"), old);
    const error = await failure(world.pull(dest));
    expect(error).toBeInstanceOf(StaleViewError);
    expect(error.message).toMatch(/before the one this box already accepted .*: an old timestamp is being replayed/);
  });

  it("refuses a pointer older than the timestamp: a new box is not handed an old stable release", async () => {
    const old = await world.edge.publish();
    const current = await world.edge.publish();
    await world.writeTimestamp({ channels: { stable: current.version } });
    await world.edge.setPointer("stable", old.version); // a stale mirror, or the old pointer replayed
    const dest = await world.edge.newDest();
    const error = await failure(world.pull(dest));
    expect(error).toBeInstanceOf(StaleViewError);
    expect(error.message).toContain(`channel "stable" points at version ${old.version}, but the timestamp issued at`);
    expect(await fs.readdir(dest)).not.toContain("current");
    // The same view with only the release key pinned installs the old release: nothing to compare against.
    expect(await world.edge.pull(await world.edge.newDest())).toMatchObject({ status: "installed", version: old.version });
    await world.edge.setPointer("stable", current.version);
  });

  it("refuses a view with no timestamp at all", async () => {
    const release = await world.edge.publish();
    await world.writeTimestamp({ channels: { stable: release.version } });
    const saved = await world.edge.getObject(world.key("timestamp.json"));
    await world.edge.deleteObject(world.key("timestamp.json"));
    try {
      const error = await failure(world.pull(await world.edge.newDest()));
      expect(error).toBeInstanceOf(StaleViewError);
      expect(error.message).toMatch(/there is no timestamp\.json .* otaTimestampFunctionName/);
    } finally {
      await world.edge.putObject(world.key("timestamp.json"), saved);
    }
  });
});

describe("a timestamp that is not the timestamp key's is refused with exit 3", () => {
  it.each([
    ["signed by the release key (which nodes can use)", () => ({ signer: world.edge.signer })],
    ["signed by a stranger", () => ({ signer: LocalKeySigner.generate() })],
    ["for another model", () => ({ modelName: "gadgets" })],
  ])("refuses a timestamp %s", async (_name, spec) => {
    const release = await world.edge.publish();
    await world.writeTimestamp({ channels: { stable: release.version }, ...spec() });
    const error = await failure(world.pull(await world.edge.newDest()));
    expect(error).toBeInstanceOf(VerificationRefusedError);
    expect((error as VerificationRefusedError).reason).toBe("bad-timestamp");
    expect((error as VerificationRefusedError).exitCode).toBe(3);
    await world.writeTimestamp({ channels: { stable: release.version } });
  });

  it("refuses a timestamp whose bytes are not canonical", async () => {
    const release = await world.edge.publish();
    const bytes = await world.writeTimestamp({ channels: { stable: release.version } });
    await world.edge.putObject(world.key("timestamp.json"), Buffer.concat([bytes, Buffer.from("\n")]));
    const error = await failure(world.pull(await world.edge.newDest()));
    expect((error as VerificationRefusedError).reason).toBe("bad-timestamp");
    expect(error.message).toMatch(/not in canonical form/);
    await world.edge.putObject(world.key("timestamp.json"), bytes);
  });
});

describe("yolo-train edge pull --root-key / status", () => {
  let home: string;
  let keyFile: string;
  beforeAll(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), "yolo-train-freshness-home-"));
    keyFile = await world.rootKeyFile();
  });
  afterAll(async () => {
    await fs.rm(home, { recursive: true, force: true });
  });
  const yoloTrain = (args: readonly string[]) => runYoloTrain(args, { home, s3Endpoint: world.edge.proxy.endpoint });

  it("exits 7 on a frozen view, and status prints the view as STALE and exits 7 until a fresh pull", async () => {
    const { dest, release } = await boxOnStable();
    const args = ["edge", "pull", "--model", MODEL, "--root-key", keyFile, "--dest", dest, "--bucket", BUCKET];
    await world.writeTimestamp({ issuedAt: new Date(Date.now() - 30 * HOUR), channels: { stable: release.version } });

    const frozen = await yoloTrain(args);
    expect(frozen.status).toBe(7);
    expect(frozen.stderr).toMatch(/yolo-train edge pull: STALE VIEW: Refused to trust this view of s3:\/\/ota-bucket\/models\/widgets\/: the timestamp expired/);
    const stale = await yoloTrain(["edge", "status", "--dest", dest]);
    expect(stale.status).toBe(7);
    expect(stale.stdout).toMatch(/^view +STALE: the timestamp expired at/m);

    await world.writeTimestamp({ channels: { stable: release.version } });
    const fresh = await yoloTrain(args);
    expect(fresh.status).toBe(0);
    expect(fresh.stdout).toMatch(/is up to date/);
    const ok = await yoloTrain(["edge", "status", "--dest", dest, "--json"]);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).view).toMatchObject({ rootVersion: 1, fresh: true });
  });

  it("exits 2 when both or neither key is pinned", async () => {
    const dest = await world.edge.newDest();
    const both = await yoloTrain(["edge", "pull", "--model", MODEL, "--root-key", keyFile, "--public-key", keyFile, "--dest", dest, "--bucket", BUCKET]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with option/);
    const neither = await yoloTrain(["edge", "pull", "--model", MODEL, "--dest", dest, "--bucket", BUCKET]);
    expect(neither.status).toBe(2);
    expect(neither.stderr).toMatch(/Pin a key: --root-key FILE/);
  });
});
