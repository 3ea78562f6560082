/**
 * The tag of a built training image: a hash of everything in its docker build context. The ECR
 * repository's tags are immutable, so new content needs a new tag; the same content gives the
 * same tag, and the docker provider then has nothing to rebuild or push.
 *
 * `contentTag` is pure; `digestContextFiles` reads the context folder (the only I/O here).
 */
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
 * Digests every file under `contextDir`, recursively. Every file counts, `.dockerignore`d ones
 * too: a tag that changes more often than the image only costs a rebuild, whereas a tag that
 * stays while the docker provider sees a change would make it push to an immutable tag and fail.
 */
export function digestContextFiles(contextDir: string): ContextFileDigest[] {
  const out: ContextFileDigest[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        walk(full, relPath);
      } else if (entry.isSymbolicLink()) {
        const target = fs.readlinkSync(full);
        out.push({ path: relPath, kind: "symlink", executable: false, sha256: sha256(Buffer.from(target)) });
      } else if (entry.isFile()) {
        const executable = (fs.statSync(full).mode & 0o111) !== 0;
        out.push({ path: relPath, kind: "file", executable, sha256: sha256(fs.readFileSync(full)) });
      }
      // Sockets, FIFOs and devices are not sent to the docker daemon.
    }
  };
  walk(contextDir, "");
  return out;
}

function sha256(data: Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}
