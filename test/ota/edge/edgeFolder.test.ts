import * as fc from "fast-check";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { EdgeFolder, reconcileState } from "../../../ota/edge/edgeFolder";
import { LocalIoError } from "../../../ota/edge/errors";
import type { EdgeState } from "../../../ota/edge/stateStore";

const NOW = new Date("2026-12-01T00:00:00.000Z");
const fallback = { modelName: "widgets", channel: "stable", now: NOW, versionsOnDisk: [3, 5, 7] };

const state = (fields: Partial<EdgeState>): EdgeState => ({
  schemaVersion: 1,
  modelName: "widgets",
  channel: "stable",
  highestVersion: 7,
  currentVersion: 7,
  previousVersion: 5,
  updatedAt: "2026-11-01T00:00:00.000Z",
  ...fields,
});

describe("reconcileState: the state brought up to where current points", () => {
  it("keeps the state itself when current points where it says (nothing to write)", () => {
    const s = state({});
    expect(reconcileState(s, 7, fallback)).toBe(s);
    expect(reconcileState(s, undefined, fallback)).toBe(s);
  });

  it.each<[string, Partial<EdgeState>, number, Partial<EdgeState>]>([
    ["an install that got as far as the swap", { currentVersion: 7, highestVersion: 7, previousVersion: 5 }, 8, { currentVersion: 8, highestVersion: 8, previousVersion: 7, rolledBackFrom: undefined }],
    ["an install after a rollback that got as far as the swap", { currentVersion: 5, highestVersion: 7, previousVersion: undefined, rolledBackFrom: 7 }, 9, { currentVersion: 9, highestVersion: 9, previousVersion: 5, rolledBackFrom: undefined }],
    ["a rollback that got as far as the swap", { currentVersion: 7, highestVersion: 7, previousVersion: 5 }, 5, { currentVersion: 5, highestVersion: 7, previousVersion: undefined, rolledBackFrom: 7 }],
    ["current pointed elsewhere by hand", { currentVersion: 7, highestVersion: 7, previousVersion: 5 }, 3, { currentVersion: 3, highestVersion: 7, previousVersion: 5 }],
  ])("follows %s", (_name, stored, linked, expected) => {
    const out = reconcileState(state(stored), linked, fallback)!;
    expect(out).toMatchObject(Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined)));
    for (const [key, value] of Object.entries(expected)) if (value === undefined) expect(out).not.toHaveProperty(key);
    expect(out.updatedAt).toBe(NOW.toISOString());
  });

  it("rebuilds a lost state from current, with the newest older version on disk as previous", () => {
    expect(reconcileState(undefined, 7, fallback)).toEqual({
      schemaVersion: 1,
      modelName: "widgets",
      channel: "stable",
      highestVersion: 7,
      currentVersion: 7,
      previousVersion: 5,
      updatedAt: NOW.toISOString(),
    });
    expect(reconcileState(undefined, undefined, fallback)).toBeUndefined();
  });

  it("never lowers the floor, whatever current points at", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 1000 }), fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }), fc.option(fc.integer({ min: 1, max: 2000 }), { nil: undefined }), (current, below, previous, linked) => {
        fc.pre(previous !== current);
        const highest = current + below;
        const s = state({ currentVersion: current, highestVersion: highest, previousVersion: previous });
        const out = reconcileState(s, linked, fallback)!;
        expect(out.highestVersion).toBeGreaterThanOrEqual(highest);
        if (linked !== undefined) expect(out.currentVersion).toBe(linked);
        expect(out.highestVersion).toBeGreaterThanOrEqual(out.currentVersion);
        expect(out.previousVersion).not.toBe(out.currentVersion);
      }),
    );
  });
});

describe("EdgeFolder.prune never follows a link", () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "yolo-train-prune-"));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  /** `<root>/outside` with a file, and `<root>/dest/versions/` with real folders for `versions`. */
  async function layout(versions: readonly number[]) {
    const outside = path.join(root, "outside");
    await fs.mkdir(path.join(outside, "0000000001"), { recursive: true });
    await fs.writeFile(path.join(outside, "0000000001", "precious.txt"), "precious\n");
    await fs.writeFile(path.join(outside, "precious.txt"), "precious\n");
    const dest = path.join(root, "dest");
    for (const v of versions) {
      await fs.mkdir(path.join(dest, "versions", String(v).padStart(10, "0")), { recursive: true });
      await fs.writeFile(path.join(dest, "versions", String(v).padStart(10, "0"), "model.onnx"), `model ${v}\n`);
    }
    await fs.mkdir(dest, { recursive: true });
    return { outside, dest, folder: new EdgeFolder(dest) };
  }

  const listing = async (dir: string): Promise<string[]> => (await fs.readdir(dir, { recursive: true })).map(String).sort();

  it("refuses a version folder that is a link, and removes nothing (neither the link nor where it points)", async () => {
    const { outside, dest, folder } = await layout([1, 3]);
    await fs.symlink(outside, path.join(dest, "versions", "0000000002"));
    const before = { outside: await listing(outside), versions: await fs.readdir(path.join(dest, "versions")) };
    const error = await folder.prune(new Set([3])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalIoError);
    expect((error as Error).message).toMatch(/0000000002 is a symbolic link \(to ".*outside"\), not a folder/);
    expect(await listing(outside)).toEqual(before.outside);
    expect(await fs.readdir(path.join(dest, "versions"))).toEqual(before.versions);
  });

  it("refuses a versions/ that is a link, and prunes nothing where it points", async () => {
    const { outside, dest, folder } = await layout([]);
    await fs.symlink(outside, path.join(dest, "versions"));
    const before = await listing(outside);
    await expect(folder.prune(new Set())).rejects.toThrow(/versions is a symbolic link .*not a folder/);
    expect(await listing(outside)).toEqual(before);
  });

  it("removes a real version folder with the links inside it, not what they point at", async () => {
    const { outside, dest, folder } = await layout([1, 2]);
    await fs.symlink(path.join(outside, "precious.txt"), path.join(dest, "versions", "0000000001", "model.pt"));
    await fs.symlink(path.join(outside, "0000000001"), path.join(dest, "versions", "0000000001", "sub"));
    const before = await listing(outside);
    expect(await folder.prune(new Set([2]))).toEqual([1]);
    expect(await fs.readdir(path.join(dest, "versions"))).toEqual(["0000000002"]);
    expect(await listing(outside)).toEqual(before);
    expect(await fs.readFile(path.join(outside, "precious.txt"), "utf8")).toBe("precious\n");
  });
});
