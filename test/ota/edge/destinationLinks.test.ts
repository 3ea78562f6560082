/**
 * Issue 10, item 6: no link is followed inside the destination. A symbolic link (to a folder
 * outside the destination or inside it) or a file where the puller expects one of its own folders
 * refuses the pull, rollback or status before anything is written or removed, and above all
 * nothing outside the destination is written or pruned, also when the link appears while a pull
 * runs.
 */
import { promises as fs } from "fs";
import * as path from "path";
import { LocalIoError } from "../../../ota/edge/errors";
import { rollback, status } from "../../../ota/edge/localRelease";
import { EdgeWorld, currentLinkTarget, snapshot } from "./fakes/edgeWorld";

let world: EdgeWorld;
beforeAll(async () => {
  world = await EdgeWorld.start();
});
afterAll(async () => {
  await world.close();
});

const key = (v: number): string => String(v).padStart(10, "0");

/** A folder outside every destination, holding a folder per version key with a file that must survive, and a loose file. */
async function outsideFolder(versions: readonly number[]): Promise<string> {
  const dir = await fs.mkdtemp(path.join(world.root, "outside-"));
  await fs.writeFile(path.join(dir, "keep.txt"), "not yolo-train's\n");
  for (const v of versions) {
    await fs.mkdir(path.join(dir, key(v)));
    await fs.writeFile(path.join(dir, key(v), "precious.txt"), `precious ${v}\n`);
  }
  return dir;
}

/** A box that installed two releases (`a`, then `b`, current). */
async function boxWithTwoReleases() {
  const dest = await world.newDest();
  const a = (await world.publish()).version;
  await world.pull(dest);
  const b = (await world.publish()).version;
  await world.pull(dest);
  return { dest, a, b };
}

/** The error a promise ends with, checked to be the local refusal (exit 5) whose message matches. */
async function localRefusal(promise: Promise<unknown>, message: RegExp): Promise<LocalIoError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LocalIoError);
  expect((error as LocalIoError).exitCode).toBe(5);
  expect((error as Error).message).toMatch(message);
  return error as LocalIoError;
}

const NOTHING_CHANGED = /Nothing was written or removed/;

describe("pull: a link planted in the destination before it runs", () => {
  it("refuses versions/ linked to an outside folder, and neither writes the new version there nor prunes old ones from it", async () => {
    const { dest, a, b } = await boxWithTwoReleases();
    const c = (await world.publish()).version;
    // The outside folder looks like versions/: a (would be pruned), b (kept), c (would be replaced by the install).
    const outside = await outsideFolder([a, b, c]);
    const outsideBefore = await snapshot(outside);
    await fs.rename(path.join(dest, "versions"), path.join(await fs.mkdtemp(path.join(world.root, "moved-")), "versions"));
    await fs.symlink(outside, path.join(dest, "versions"));
    const destBefore = await snapshot(dest);

    const error = await localRefusal(world.pull(dest), new RegExp(`${escape(path.join(dest, "versions"))} is a symbolic link \\(to "${escape(outside)}"\\), not a folder`));
    expect(error.message).toMatch(NOTHING_CHANGED);
    expect(await snapshot(outside)).toEqual(outsideBefore);
    expect(await snapshot(dest)).toEqual(destBefore);
  });

  it("refuses a fresh destination whose versions/ is a link, before downloading into it", async () => {
    const v = (await world.publish()).version;
    const outside = await outsideFolder([v]);
    const outsideBefore = await snapshot(outside);
    const dest = await world.newDest();
    await fs.mkdir(dest);
    await fs.symlink(outside, path.join(dest, "versions"));

    await localRefusal(world.pull(dest), /versions is a symbolic link .*not a folder/);
    expect(await snapshot(outside)).toEqual(outsideBefore);
    expect((await fs.readdir(dest)).sort()).toEqual(["versions"]);
  });

  it.each<[string, (dest: string, outside: string, b: number) => string]>([
    ["a folder outside", (_dest, outside) => outside],
    ["another version folder inside", (_dest, _outside, b) => key(b)],
  ])("refuses a version folder that is a link to %s, and prune does not follow or remove it", async (_name, target) => {
    const { dest, a, b } = await boxWithTwoReleases();
    await world.publish();
    const outside = await outsideFolder([]);
    await fs.writeFile(path.join(outside, "model.onnx"), "outside model\n");
    const outsideBefore = await snapshot(outside);
    const planted = path.join(dest, "versions", key(a));
    await fs.rm(planted, { recursive: true });
    await fs.symlink(target(dest, outside, b), planted);
    const destBefore = await snapshot(dest);

    await localRefusal(world.pull(dest), new RegExp(`${escape(planted)} is a symbolic link .*not a folder`));
    expect(await snapshot(outside)).toEqual(outsideBefore);
    expect(await snapshot(dest)).toEqual(destBefore);
    expect(await currentLinkTarget(dest)).toBe(`versions/${key(b)}`);
  });

  it("refuses a destination that is itself a link, and installs nothing where it points", async () => {
    await world.publish();
    const outside = await outsideFolder([]);
    const outsideBefore = await snapshot(outside);
    const dest = await world.newDest();
    await fs.symlink(outside, dest);

    await localRefusal(world.pull(dest), new RegExp(`--dest ${escape(dest)} is a symbolic link \\(to "${escape(outside)}"\\), not a folder`));
    expect(await snapshot(outside)).toEqual(outsideBefore);
  });

  it("refuses a .staging/ that is a link, and leaves the link and where it points alone", async () => {
    const { dest } = await boxWithTwoReleases();
    const next = (await world.publish()).version;
    const outside = await outsideFolder([next]);
    const outsideBefore = await snapshot(outside);
    await fs.symlink(outside, path.join(dest, ".staging"));
    const destBefore = await snapshot(dest);

    await localRefusal(world.pull(dest), /\.staging is a symbolic link .*not a folder/);
    expect(await snapshot(outside)).toEqual(outsideBefore);
    expect(await snapshot(dest)).toEqual(destBefore);
  });

  it.each<[string, (dest: string, a: number) => string]>([
    ["versions", () => "versions"],
    [".staging", () => ".staging"],
    ["an old version folder", (_dest, a) => path.join("versions", key(a))],
  ])("refuses a file where %s should be a folder", async (_name, where) => {
    const { dest, a, b } = await boxWithTwoReleases();
    await world.publish();
    const planted = path.join(dest, where(dest, a));
    if (planted.endsWith("versions")) {
      // current must still lead somewhere for the box to be a box: move the real folder aside.
      await fs.rename(planted, path.join(await fs.mkdtemp(path.join(world.root, "moved-")), "versions"));
    } else {
      await fs.rm(planted, { recursive: true, force: true });
    }
    await fs.writeFile(planted, "a file\n");
    const destBefore = await snapshot(dest);

    await localRefusal(world.pull(dest), new RegExp(`${escape(planted)} is a file, not a folder`));
    expect(await snapshot(dest)).toEqual(destBefore);
    expect(await currentLinkTarget(dest)).toBe(`versions/${key(b)}`);
  });

  it("refuses a --dest that is a file", async () => {
    const dest = await world.newDest();
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await fs.writeFile(dest, "a file\n");
    await localRefusal(world.pull(dest), new RegExp(`--dest ${escape(dest)} is a file, not a folder`));
    expect(await fs.readFile(dest, "utf8")).toBe("a file\n");
  });

  it.each<[string, string, "link" | "folder"]>([
    ["state.json as a link to an outside file", "state.json", "link"],
    [".lock as a link to an outside file", ".lock", "link"],
    [".lock as a folder", ".lock", "folder"],
  ])("refuses %s, and writes nothing through it", async (_name, name, kind) => {
    const { dest, b } = await boxWithTwoReleases();
    await world.publish();
    const outside = await outsideFolder([]);
    const outsideFile = path.join(outside, "keep.txt");
    const planted = path.join(dest, name);
    if (kind === "link") {
      if (name === "state.json") await fs.copyFile(planted, outsideFile);
      await fs.rm(planted, { force: true });
      await fs.symlink(outsideFile, planted);
    } else await fs.mkdir(planted);
    const outsideBefore = await snapshot(outside);
    const destBefore = await snapshot(dest);

    await localRefusal(world.pull(dest), new RegExp(`${escape(planted)} is ${kind === "link" ? "a symbolic link" : "a folder"}.*not a plain file`));
    expect(await snapshot(outside)).toEqual(outsideBefore);
    expect(await snapshot(dest)).toEqual(destBefore);
    expect(await currentLinkTarget(dest)).toBe(`versions/${key(b)}`);
  });
});

describe("pull: a link planted while it runs is refused right before use", () => {
  it(".staging/ turned into a link before the download: nothing outside is removed or written", async () => {
    const dest = await world.newDest();
    const v = (await world.publish()).version;
    const outside = await outsideFolder([v]);
    const outsideBefore = await snapshot(outside);
    const error = await localRefusal(
      world.pull(dest, {
        beforeStep: async (step) => {
          if (step === "download") await fs.symlink(outside, path.join(dest, ".staging"));
        },
      }),
      /\.staging is a symbolic link .*not a folder/,
    );
    expect(error.message).toMatch(NOTHING_CHANGED);
    expect(await snapshot(outside)).toEqual(outsideBefore);
    await expect(fs.lstat(path.join(dest, "current"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("versions/ turned into a link before the commit: the release is not renamed into it, and nothing there is replaced", async () => {
    const dest = await world.newDest();
    const v = (await world.publish()).version;
    const outside = await outsideFolder([v]);
    const outsideBefore = await snapshot(outside);
    await localRefusal(
      world.pull(dest, {
        beforeStep: async (step) => {
          if (step === "commit") await fs.symlink(outside, path.join(dest, "versions"));
        },
      }),
      /versions is a symbolic link .*not a folder/,
    );
    expect(await snapshot(outside)).toEqual(outsideBefore);
    await expect(fs.lstat(path.join(dest, "current"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("versions/ turned into a link before the prune: the install stands, and nothing outside is pruned", async () => {
    const { dest, a, b } = await boxWithTwoReleases();
    const c = (await world.publish()).version;
    // The link leads to the real folders (so current still works) moved outside, where a would be pruned.
    const outside = path.join(await fs.mkdtemp(path.join(world.root, "moved-")), "versions");
    let outsideBefore: Record<string, string> = {};
    const result = await world.pull(dest, {
      beforeStep: async (step) => {
        if (step !== "record") return;
        await fs.rename(path.join(dest, "versions"), outside);
        await fs.symlink(outside, path.join(dest, "versions"));
        outsideBefore = await snapshot(outside);
      },
    });
    expect(result).toMatchObject({ status: "installed", version: c, previousVersion: b });
    expect(result.warnings.join("\n")).toMatch(/old versions could not be removed: .*versions is a symbolic link .*not a folder/);
    expect(Object.keys(outsideBefore)).toContain(key(a));
    expect(await snapshot(outside)).toEqual(outsideBefore);
  });
});

describe("rollback and status follow no link either", () => {
  it("rollback refuses a previous version folder that is a link (even to an identical copy), and leaves current alone", async () => {
    const { dest, a, b } = await boxWithTwoReleases();
    const copy = await fs.mkdtemp(path.join(world.root, "outside-"));
    await fs.cp(path.join(dest, "versions", key(a)), copy, { recursive: true });
    await fs.rm(path.join(dest, "versions", key(a)), { recursive: true });
    await fs.symlink(copy, path.join(dest, "versions", key(a)));
    const copyBefore = await snapshot(copy);

    await localRefusal(rollback(dest), new RegExp(`${escape(path.join(dest, "versions", key(a)))} is a symbolic link .*not a folder`));
    expect(await currentLinkTarget(dest)).toBe(`versions/${key(b)}`);
    expect(await snapshot(copy)).toEqual(copyBefore);
  });

  it("rollback and status refuse a versions/ that is a link, and change nothing where it points", async () => {
    const { dest, b } = await boxWithTwoReleases();
    const outside = path.join(await fs.mkdtemp(path.join(world.root, "moved-")), "versions");
    await fs.rename(path.join(dest, "versions"), outside);
    await fs.symlink(outside, path.join(dest, "versions"));
    const outsideBefore = await snapshot(outside);

    await localRefusal(rollback(dest), /versions is a symbolic link .*not a folder/);
    await localRefusal(status(dest), /versions is a symbolic link .*not a folder/);
    expect(await currentLinkTarget(dest)).toBe(`versions/${key(b)}`);
    expect(await snapshot(outside)).toEqual(outsideBefore);
  });

  it("rollback and status refuse a destination that is a link", async () => {
    const { dest: real, b } = await boxWithTwoReleases();
    const dest = path.join(await fs.mkdtemp(path.join(world.root, "box-")), "widgets");
    await fs.symlink(real, dest);
    const before = await snapshot(real);

    await localRefusal(rollback(dest), /--dest .* is a symbolic link/);
    await localRefusal(status(dest), /--dest .* is a symbolic link/);
    expect(await snapshot(real)).toEqual(before);
    expect(await currentLinkTarget(real)).toBe(`versions/${key(b)}`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
