/**
 * The tag of a built training image: a hash of everything in its docker build context. The ECR
 * repository's tags are immutable, so new content needs a new tag; the same content gives the
 * same tag, and the docker provider then has nothing to rebuild or push.
 *
 * `contentTag` is pure; `digestContextFiles` reads the context folder (the only I/O here).
 */
import createDockerignore from "@balena/dockerignore";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/** One file of a build context, reduced to what can change the built image. */
export interface ContextFileDigest {
  /** Path relative to the context, with `/` separators. */
  readonly path: string;
  /** `file`, or `symlink` (docker copies the link itself, so its target is what counts). */
  readonly kind: "file" | "symlink";
  /** Whether any execute bit is set: `COPY` keeps the mode, so a chmod changes the image. */
  readonly executable: boolean;
  /** sha256 (hex) of the file's bytes, or of the link's target path. */
  readonly sha256: string;
}

/** Tag prefix, so a content tag is told apart from hand-made tags at a glance. */
export const CONTENT_TAG_PREFIX = "ctx-";

/**
 * The image tag for a build context: `ctx-` and the first 24 hex digits (96 bits) of a sha256
 * over every file's path, kind, execute bit and content, in path order, plus `salt` (the build
 * settings that change the image without changing a file: platform, Dockerfile path).
 * Independent of the order files are listed in and of where the context folder is.
 */
export function contentTag(files: readonly ContextFileDigest[], salt: readonly string[] = []): string {
  const paths = files.map((f) => f.path);
  const duplicate = paths.find((p, i) => paths.indexOf(p) !== i);
  if (duplicate !== undefined) throw new Error(`context lists ${duplicate} twice`);
  const hash = crypto.createHash("sha256");
  hash.update("yolo-train-context-v1\0");
  for (const s of salt) hash.update(`salt\0${s}\0`);
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(`${f.kind}\0${f.path}\0${f.executable ? "x" : "-"}\0${f.sha256}\n`);
  }
  return CONTENT_TAG_PREFIX + hash.digest("hex").slice(0, 24);
}

/**
 * Digests the files of a build context: every file under `contextDir` that its `.dockerignore`
 * lets through (Docker's own rules, via @balena/dockerignore), plus the Dockerfile, which docker
 * reads even when it is ignored. Ignored files never reach the docker daemon, so they cannot
 * change the image; counting them would rebuild on every `git` or `npm` operation.
 */
export function digestContextFiles(contextDir: string, dockerfile?: string): ContextFileDigest[] {
  const ignoreFile = path.join(contextDir, ".dockerignore");
  const rules = fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, "utf8").split(/\r?\n/) : [];
  const ignore = createDockerignore({ ignorecase: false }).add(rules);
  // Exceptions (`!agent/`) can re-include files under an ignored folder; only folders that no
  // exception reaches into are skipped whole (node_modules, .git).
  const exceptions = rules.map((r) => r.trim()).filter((r) => r.startsWith("!")).map((r) => r.slice(1).replace(/^\/+/, ""));
  const mayHoldException = (relDir: string) => exceptions.some((e) => e.startsWith(`${relDir}/`) || e.includes("*"));

  const out: ContextFileDigest[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!ignore.ignores(relPath) || mayHoldException(relPath)) walk(full, relPath);
      } else if (ignore.ignores(relPath)) {
        continue;
      } else if (entry.isSymbolicLink()) {
        const target = fs.readlinkSync(full);
        out.push({ path: relPath, kind: "symlink", executable: false, sha256: sha256(Buffer.from(target)) });
      } else if (entry.isFile()) {
        out.push(digestFile(full, relPath));
      }
      // Sockets, FIFOs and devices are not sent to the docker daemon.
    }
  };
  walk(contextDir, "");
  if (dockerfile !== undefined) {
    const relPath = path.relative(contextDir, dockerfile).split(path.sep).join("/");
    if (!out.some((f) => f.path === relPath)) out.push(digestFile(dockerfile, relPath));
  }
  return out;
}

function digestFile(full: string, relPath: string): ContextFileDigest {
  const executable = (fs.statSync(full).mode & 0o111) !== 0;
  return { path: relPath, kind: "file", executable, sha256: sha256(fs.readFileSync(full)) };
}

function sha256(data: Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}
