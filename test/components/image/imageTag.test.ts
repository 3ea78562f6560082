import fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CONTENT_TAG_PREFIX, type ContextFileDigest, contentTag, digestContextFiles } from "../../../components/image/imageTag";

const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const fileDigest = fc.record({
  path: fc.stringMatching(/^[a-z]{1,6}(\/[a-z]{1,6}){0,2}\.?[a-z]{0,3}$/),
  kind: fc.constantFrom<"file" | "symlink">("file", "symlink"),
  executable: fc.boolean(),
  sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
});
const context = fc.uniqueArray(fileDigest, { selector: (f) => f.path, minLength: 1, maxLength: 8 });

function makeContext(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-ctx-"));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

describe("the content tag", () => {
  it("is a valid docker tag starting with ctx-", () => {
    fc.assert(
      fc.property(context, (files) => {
        const tag = contentTag(files);
        expect(tag).toMatch(DOCKER_TAG);
        expect(tag.startsWith(CONTENT_TAG_PREFIX)).toBe(true);
      }),
    );
  });

  it("does not depend on the order files are listed in", () => {
    fc.assert(fc.property(context, (files) => expect(contentTag([...files].reverse())).toBe(contentTag(files))));
  });

  it("changes when any file's content, mode or kind changes, or a file is added", () => {
    fc.assert(
      fc.property(context, fc.nat(), fc.constantFrom("sha256", "executable", "kind", "add"), (files, index, change) => {
        const i = index % files.length;
        const f = files[i]!;
        let changed: ContextFileDigest[];
        if (change === "add") {
          changed = [...files, { ...f, path: `${f.path}-new` }];
        } else {
          const g: ContextFileDigest =
            change === "sha256"
              ? { ...f, sha256: f.sha256.startsWith("0") ? `1${f.sha256.slice(1)}` : `0${f.sha256.slice(1)}` }
              : change === "executable"
                ? { ...f, executable: !f.executable }
                : { ...f, kind: f.kind === "file" ? "symlink" : "file" };
          changed = files.map((x, j) => (j === i ? g : x));
        }
        expect(contentTag(changed)).not.toBe(contentTag(files));
      }),
    );
  });

  it("changes with the build settings passed as salt", () => {
    const files = [{ path: "Dockerfile", kind: "file" as const, executable: false, sha256: "a".repeat(64) }];
    expect(contentTag(files, ["platform=linux/amd64"])).not.toBe(contentTag(files, ["platform=linux/arm64"]));
  });

  it("refuses a context that lists a path twice", () => {
    const f = { path: "a", kind: "file" as const, executable: false, sha256: "a".repeat(64) };
    expect(() => contentTag([f, f])).toThrow(/twice/);
  });
});

describe("digesting a context folder", () => {
  it("gives the same tag for the same content in different folders, and a new one after an edit", () => {
    const files = { Dockerfile: "FROM scratch\nCOPY app /app\n", "app/train.py": "print('hi')\n" };
    const a = makeContext(files);
    const b = makeContext(files);
    try {
      expect(contentTag(digestContextFiles(a))).toBe(contentTag(digestContextFiles(b)));
      fs.writeFileSync(path.join(b, "app/train.py"), "print('bye')\n");
      expect(contentTag(digestContextFiles(a))).not.toBe(contentTag(digestContextFiles(b)));
    } finally {
      fs.rmSync(a, { recursive: true, force: true });
      fs.rmSync(b, { recursive: true, force: true });
    }
  });

  it("lists nested files with / paths, their execute bit and symlinks by target", () => {
    const dir = makeContext({ Dockerfile: "FROM scratch\n", "bin/run.sh": "#!/bin/sh\n" });
    try {
      fs.chmodSync(path.join(dir, "bin/run.sh"), 0o755);
      fs.symlinkSync("bin/run.sh", path.join(dir, "run"));
      const digests = digestContextFiles(dir).sort((x, y) => x.path.localeCompare(y.path));
      expect(digests.map((d) => [d.path, d.kind, d.executable])).toEqual([
        ["bin/run.sh", "file", true],
        ["Dockerfile", "file", false],
        ["run", "symlink", false],
      ]);
      expect(digests.every((d) => /^[0-9a-f]{64}$/.test(d.sha256))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("digesting a context with a .dockerignore", () => {
  function context(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-train-ignore-"));
    for (const [file, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
    return dir;
  }

  it("counts only what docker would receive, so ignored churn does not change the tag", () => {
    const files = {
      ".dockerignore": "*\n!app/\n**/*.pyc\n",
      "app/main.py": "print('hi')",
      "app/cache.pyc": "x",
      "node_modules/big/index.js": "y",
      "notes.txt": "z",
    };
    const a = context(files);
    const b = context({ ...files, "node_modules/big/index.js": "changed", "notes.txt": "changed", "app/cache.pyc": "changed" });
    expect(digestContextFiles(a).map((f) => f.path).sort()).toEqual(["app/main.py"]);
    expect(contentTag(digestContextFiles(a))).toBe(contentTag(digestContextFiles(b)));
    const c = context({ ...files, "app/main.py": "print('changed')" });
    expect(contentTag(digestContextFiles(c))).not.toBe(contentTag(digestContextFiles(a)));
  });

  it("counts the Dockerfile even when the .dockerignore leaves it out", () => {
    const a = context({ ".dockerignore": "*\n!app/\n", "app/x": "1", "build/Dockerfile": "FROM a:1" });
    const b = context({ ".dockerignore": "*\n!app/\n", "app/x": "1", "build/Dockerfile": "FROM a:2" });
    const tagOf = (dir: string) => contentTag(digestContextFiles(dir, path.join(dir, "build", "Dockerfile")));
    expect(tagOf(a)).not.toBe(tagOf(b));
  });
});
