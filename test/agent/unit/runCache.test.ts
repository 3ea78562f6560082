import { createHash } from "crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { mkdir, readFile, rename, writeFile } from "fs/promises";
import { tmpdir } from "os";
import { dirname, join, relative } from "path";
import type { DownloadResult, ListedObject, ObjectFacts, UploadedObject, UploadRequest } from "../../../agent/checkpointUploader";
import type { FileDigest } from "../../../agent/checkpointIntegrity";
import type { Logger } from "../../../agent/log";
import { runLayout } from "../../../runspec/runLayout";
import {
  cacheEntry,
  cacheEntryOfKey,
  cachePlaces,
  isCacheFileName,
  RunCache,
  selectUploads,
  type CacheFile,
  type CacheTransfer,
} from "../../../agent/runCache";
import type { FileSignature } from "../../../agent/weightsWatcher";

const RUN = "yolov8n-coco8-0123456789";
const PREFIX = `runs/${RUN}/`;
const places = cachePlaces(runLayout({ runId: RUN, artifacts: { bucket: "art", prefix: PREFIX } }, "/scratch"));

describe("cache names and keys", () => {
  it("maps weights to <scratch>/weights and label caches to <workdir>/label-cache", () => {
    expect(cacheEntry(places, "weights", "yolo11n.pt")).toEqual({ kind: "weights", name: "yolo11n.pt", key: `${PREFIX}cache/weights/yolo11n.pt`, path: "/scratch/weights/yolo11n.pt" });
    expect(cacheEntry(places, "labels", "labels-train-0123456789ab.cache")).toEqual({
      kind: "labels",
      name: "labels-train-0123456789ab.cache",
      key: `${PREFIX}cache/labels/labels-train-0123456789ab.cache`,
      path: `/scratch/runs/${RUN}/label-cache/labels-train-0123456789ab.cache`,
    });
  });

  it.each([
    ["weights", "yolov8n.pt", true],
    ["weights", "yolo11x-seg.pt", true],
    ["labels", "train.cache", true],
    ["weights", `${"a".repeat(125)}.pt`, true],
    ["weights", `${"a".repeat(126)}.pt`, false],
    ["weights", "train.cache", false],
    ["labels", "yolov8n.pt", false],
    ["labels", "train.cache.npy", false],
    ["weights", "yolov8n.pt.download", false],
    ["weights", ".pt", false],
    ["weights", ".hidden.pt", false],
    ["weights", "..", false],
    ["weights", "../yolov8n.pt", false],
    ["weights", "a/b.pt", false],
    ["weights", "a\\b.pt", false],
    ["weights", "a b.pt", false],
    ["weights", "%2e%2e.pt", false],
    ["weights", "", false],
  ] as const)("%s %j → %p", (kind, name, valid) => {
    expect(isCacheFileName(kind, name)).toBe(valid);
    expect(cacheEntry(places, kind, name) !== null).toBe(valid);
  });

  it("reads back only keys exactly of the form <prefix>cache/<kind>/<name>", () => {
    expect(cacheEntryOfKey(places, `${PREFIX}cache/weights/yolo11n.pt`)?.path).toBe("/scratch/weights/yolo11n.pt");
    expect(cacheEntryOfKey(places, `${PREFIX}cache/labels/train.cache`)?.path).toBe(`/scratch/runs/${RUN}/label-cache/train.cache`);
    for (const key of [
      `${PREFIX}cache/weights/../../run.json`,
      `${PREFIX}cache/weights/../labels/train.cache`,
      `${PREFIX}cache/labels/nested/train.cache`,
      `${PREFIX}cache/labels/../../../../../etc/x.cache`,
      `${PREFIX}cache/weights/`,
      `${PREFIX}cache/weights//yolo11n.pt`,
      `${PREFIX}cache/other/yolo11n.pt`,
      `${PREFIX}cache/yolo11n.pt`,
      `${PREFIX}checkpoints/phase-0/last.pt`,
      `runs/another-run/cache/weights/yolo11n.pt`,
      `cache/weights/yolo11n.pt`,
    ]) {
      expect([key, cacheEntryOfKey(places, key)]).toEqual([key, null]);
    }
  });
});

describe("selectUploads", () => {
  const sig = (ino: number, size = 10, mtimeMs = 1): FileSignature => ({ ino, size, mtimeMs });
  const file = (name: string, signature: FileSignature): CacheFile => ({ ...cacheEntry(places, "weights", name)!, signature });
  const key = (name: string) => `${PREFIX}cache/weights/${name}`;
  const none = new Map<string, FileSignature>();

  it("takes files unchanged since the previous poll and not known to be in S3", () => {
    const files = [file("stable.pt", sig(1)), file("growing.pt", sig(2, 20)), file("new.pt", sig(3)), file("synced.pt", sig(4)), file("resynced.pt", sig(5, 11))];
    const previousPoll = new Map([
      [key("stable.pt"), sig(1)],
      [key("growing.pt"), sig(2, 10)],
      [key("synced.pt"), sig(4)],
      [key("resynced.pt"), sig(5, 11)],
    ]);
    const synced = new Map([
      [key("synced.pt"), sig(4)],
      [key("resynced.pt"), sig(5, 10)],
    ]);
    expect(selectUploads({ files, previousPoll, synced, failed: none, trainerExited: false }).map((f) => f.name)).toEqual(["stable.pt", "resynced.pt"]);
  });

  it("after the trainer exited takes every file not in S3, and retries failed ones", () => {
    const files = [file("new.pt", sig(3)), file("failed.pt", sig(6)), file("synced.pt", sig(4))];
    const previousPoll = new Map([[key("failed.pt"), sig(6)]]);
    const failed = new Map([[key("failed.pt"), sig(6)]]);
    const synced = new Map([[key("synced.pt"), sig(4)]]);
    expect(selectUploads({ files, previousPoll, synced, failed, trainerExited: false }).map((f) => f.name)).toEqual([]);
    expect(selectUploads({ files, previousPoll, synced, failed, trainerExited: true }).map((f) => f.name)).toEqual(["new.pt", "failed.pt"]);
  });

  it("tries a failed file again once it changed and held still", () => {
    const files = [file("failed.pt", sig(6, 12))];
    const previousPoll = new Map([[key("failed.pt"), sig(6, 12)]]);
    const failed = new Map([[key("failed.pt"), sig(6)]]);
    expect(selectUploads({ files, previousPoll, synced: none, failed, trainerExited: false }).map((f) => f.name)).toEqual(["failed.pt"]);
  });
});

const sha256 = (bytes: Buffer | string): string => createHash("sha256").update(bytes).digest("hex");

/** The artifact bucket in memory, with the checks of CheckpointTransfer that matter here. */
class FakeTransfer implements CacheTransfer {
  readonly objects = new Map<string, { readonly bytes: Buffer; readonly sha256: string | null }>();
  readonly calls: string[] = [];
  failUploads = false;
  failListing = false;
  /** Resolves the upload in flight (set while one waits). */
  holdUploads: Promise<void> | null = null;

  put(key: string, bytes: Buffer | string, metadataSha256: string | null = sha256(bytes)): void {
    this.objects.set(key, { bytes: Buffer.from(bytes), sha256: metadataSha256 });
  }

  async listObjects(prefix: string): Promise<ListedObject[]> {
    this.calls.push(`list ${prefix}`);
    if (this.failListing) throw new Error("listing failed");
    // In key order, as S3 lists.
    return [...this.objects]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, o]) => ({ key, bytes: o.bytes.length }));
  }

  async headObject(key: string): Promise<ObjectFacts | null> {
    this.calls.push(`head ${key}`);
    const object = this.objects.get(key);
    return object ? { bytes: object.bytes.length, sha256: object.sha256 } : null;
  }

  async uploadFile(request: UploadRequest): Promise<UploadedObject> {
    this.calls.push(`upload ${request.key}`);
    const bytes = await readFile(request.path);
    if (this.holdUploads) await this.holdUploads;
    if (request.signal?.aborted) throw Object.assign(new Error("Upload aborted."), { name: "AbortError" });
    if (this.failUploads) throw new Error("S3 said no");
    this.put(request.key, bytes);
    return { bytes: bytes.length, sha256: sha256(bytes), versionId: null };
  }

  async downloadFile(key: string, path: string, expectedSha256: string): Promise<DownloadResult> {
    this.calls.push(`download ${key}`);
    const object = this.objects.get(key);
    if (!object) throw new Error("NoSuchKey");
    const got = sha256(object.bytes);
    if (got !== expectedSha256) throw new Error(`sha256 ${got} is not ${expectedSha256}`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.download`, object.bytes);
    await rename(`${path}.download`, path);
    return { bytes: object.bytes.length, sha256: got, matched: "record" };
  }

  async digestFile(path: string): Promise<FileDigest> {
    const bytes = await readFile(path);
    return { bytes: bytes.length, sha256: sha256(bytes) };
  }
}

function recordingLogger(): Logger & { events: Array<{ level: string; event: string; fields: Record<string, unknown> }> } {
  const events: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (event: string, fields: Record<string, unknown> = {}) => void events.push({ level, event, fields });
  return { events, info: at("info"), warn: at("warn"), error: at("error") };
}

/** Every file and link under `root`, relative, sorted. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(root, path) + (entry.isSymbolicLink() ? " (link)" : ""));
    }
  };
  walk(root);
  return out.sort();
}

describe("RunCache", () => {
  let root: string;
  let scratch: string;
  let layout: ReturnType<typeof runLayout>;
  let transfer: FakeTransfer;
  let log: ReturnType<typeof recordingLogger>;
  let checkpointsIdle: Promise<void>;
  let cache: RunCache;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "run-cache-"));
    scratch = join(root, "scratch");
    mkdirSync(scratch);
    layout = runLayout({ runId: RUN, artifacts: { bucket: "art", prefix: PREFIX } }, scratch);
    transfer = new FakeTransfer();
    log = recordingLogger();
    checkpointsIdle = Promise.resolve();
    cache = new RunCache(transfer, layout, log, { beforeUpload: () => checkpointsIdle });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const weightsKey = `${PREFIX}cache/weights/yolo11n.pt`;
  const labelsKey = `${PREFIX}cache/labels/train.cache`;
  const poll = async (trainerExited = false): Promise<void> => {
    cache.poll(trainerExited);
    await cache.idle();
  };

  describe("restore", () => {
    it("downloads what the node lacks, keeps what it has, and skips what fails verification", async () => {
      transfer.put(weightsKey, "weights bytes");
      transfer.put(labelsKey, "label cache bytes");
      transfer.put(`${PREFIX}cache/weights/yolov8n.pt`, "tampered", sha256("original"));
      transfer.put(`${PREFIX}cache/weights/no-metadata.pt`, "bytes", null);
      mkdirSync(layout.labelCacheDir, { recursive: true });
      writeFileSync(join(layout.labelCacheDir, "train.cache"), "label cache bytes");

      await cache.restore();

      expect(readFileSync(join(layout.weightsCacheDir, "yolo11n.pt"), "utf8")).toBe("weights bytes");
      expect(transfer.calls.filter((c) => c.startsWith("download"))).toEqual([`download ${weightsKey}`, `download ${PREFIX}cache/weights/yolov8n.pt`]);
      expect(tree(scratch)).toEqual([`runs/${RUN}/label-cache/train.cache`, "weights/yolo11n.pt"]);
      expect(log.events.filter((e) => e.level === "warn").map((e) => [e.event, e.fields.key])).toEqual([
        ["cache-restore-skipped", `${PREFIX}cache/weights/no-metadata.pt`],
        ["cache-restore-skipped", `${PREFIX}cache/weights/yolov8n.pt`],
      ]);
      expect(log.events.find((e) => e.event === "cache-restore-done")?.fields).toMatchObject({ files: 1, bytes: 13, alreadyPresent: 1, skipped: 2 });

      // Nothing restored or already present goes up again.
      await poll();
      await poll();
      await poll(true);
      expect(transfer.calls.filter((c) => c.startsWith("upload"))).toEqual([]);
    });

    it("never writes outside the two folders, whatever the keys", async () => {
      for (const key of [`${PREFIX}cache/weights/../../escape.pt`, `${PREFIX}cache/labels/nested/train.cache`, `${PREFIX}cache/labels/.hidden.cache`, `${PREFIX}cache/run.json`]) {
        transfer.put(key, "x");
      }
      await cache.restore();
      expect(transfer.calls.filter((c) => !c.startsWith("list"))).toEqual([]);
      expect(tree(root)).toEqual([]);
      expect(log.events.filter((e) => e.event === "cache-object-ignored")).toHaveLength(4);
    });

    it("replaces a symbolic link in the way instead of writing through it", async () => {
      const outside = join(root, "outside.pt");
      writeFileSync(outside, "do not touch");
      mkdirSync(layout.weightsCacheDir, { recursive: true });
      symlinkSync(outside, join(layout.weightsCacheDir, "yolo11n.pt"));
      transfer.put(weightsKey, "weights bytes");
      await cache.restore();
      expect(readFileSync(outside, "utf8")).toBe("do not touch");
      expect(lstatSync(join(layout.weightsCacheDir, "yolo11n.pt")).isFile()).toBe(true);
    });

    it("does not restore into a weights folder that is a symbolic link", async () => {
      const elsewhere = join(root, "elsewhere");
      mkdirSync(elsewhere);
      symlinkSync(elsewhere, layout.weightsCacheDir);
      transfer.put(weightsKey, "weights bytes");
      await cache.restore();
      expect(readdirSync(elsewhere)).toEqual([]);
      expect(log.events.find((e) => e.event === "cache-restore-skipped")?.fields.key).toBe(weightsKey);
    });

    it("gives up quietly when S3 cannot be listed", async () => {
      transfer.failListing = true;
      await expect(cache.restore()).resolves.toBeUndefined();
      expect(log.events.map((e) => e.event)).toEqual(["cache-restore-failed"]);
    });
  });

  describe("uploads", () => {
    const writeWeights = (bytes = "weights bytes"): void => {
      mkdirSync(layout.weightsCacheDir, { recursive: true });
      writeFileSync(join(layout.weightsCacheDir, "yolo11n.pt"), bytes);
    };

    it("upload a file once it held still over two polls, and only once", async () => {
      await cache.restore();
      writeWeights();
      mkdirSync(layout.labelCacheDir, { recursive: true });
      writeFileSync(join(layout.labelCacheDir, "train.cache"), "label cache bytes");
      writeFileSync(join(layout.labelCacheDir, "train.cache.npy"), "being written");
      writeFileSync(join(layout.weightsCacheDir, "notes.txt"), "not a cache file");
      await poll();
      expect(transfer.calls.filter((c) => c.startsWith("upload"))).toEqual([]);
      await poll();
      await poll();
      await poll(true);
      expect(transfer.calls.filter((c) => c.startsWith("upload"))).toEqual([`upload ${weightsKey}`, `upload ${labelsKey}`]);
      expect(transfer.objects.get(weightsKey)?.sha256).toBe(sha256("weights bytes"));
      expect(log.events.filter((e) => e.event === "cache-uploaded").map((e) => [e.fields.key, e.fields.bytes])).toEqual([
        [weightsKey, 13],
        [labelsKey, 17],
      ]);
    });

    it("never uploads a symbolic link's target", async () => {
      const outside = join(root, "secret.pt");
      writeFileSync(outside, "secret");
      mkdirSync(layout.weightsCacheDir, { recursive: true });
      symlinkSync(outside, join(layout.weightsCacheDir, "yolo11n.pt"));
      await cache.restore();
      await poll();
      await poll(true);
      expect(transfer.calls.filter((c) => c.startsWith("upload"))).toEqual([]);
    });

    it("does not upload a file S3 already holds with the same sha256", async () => {
      transfer.put(weightsKey, "weights bytes");
      // The restore found the listing but not the file (this node deleted it meanwhile, say).
      await cache.restore();
      writeWeights();
      const uploadsBefore = transfer.calls.filter((c) => c.startsWith("upload")).length;
      await poll(true);
      expect(transfer.calls.filter((c) => c.startsWith("upload")).length).toBe(uploadsBefore);
      expect(log.events.some((e) => e.event === "cache-already-in-s3")).toBe(true);
    });

    it("asks S3 with a HEAD when the restore could not list it", async () => {
      transfer.failListing = true;
      await cache.restore();
      transfer.put(weightsKey, "weights bytes");
      writeWeights();
      await poll(true);
      expect(transfer.calls).toEqual([`list ${PREFIX}cache/`, `head ${weightsKey}`]);
    });

    it("logs a failed upload as a warning and tries it again only after the trainer exited", async () => {
      await cache.restore();
      writeWeights();
      transfer.failUploads = true;
      await poll();
      await poll();
      await poll();
      await poll();
      expect(transfer.calls.filter((c) => c.startsWith("upload"))).toEqual([`upload ${weightsKey}`]);
      expect(log.events.filter((e) => e.level !== "info").map((e) => [e.level, e.event])).toEqual([["warn", "cache-upload-failed"]]);
      transfer.failUploads = false;
      await poll(true);
      expect(transfer.objects.has(weightsKey)).toBe(true);
    });

    it("waits for checkpoint uploads before it starts one", async () => {
      await cache.restore();
      writeWeights();
      let checkpointDone!: () => void;
      checkpointsIdle = new Promise<void>((resolve) => (checkpointDone = resolve));
      cache.poll(false);
      await cache.idle();
      cache.poll(false);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(transfer.calls.filter((c) => c.startsWith("upload"))).toEqual([]);
      checkpointDone();
      await cache.idle();
      expect(transfer.calls.filter((c) => c.startsWith("upload"))).toEqual([`upload ${weightsKey}`]);
    });

    it("stop() aborts the upload in flight and starts no other", async () => {
      await cache.restore();
      writeWeights();
      let letGo!: () => void;
      transfer.holdUploads = new Promise<void>((resolve) => (letGo = resolve));
      await poll();
      cache.poll(false);
      await new Promise((resolve) => setTimeout(resolve, 20));
      cache.stop();
      letGo();
      await cache.idle();
      await poll(true);
      expect(transfer.objects.has(weightsKey)).toBe(false);
      expect(transfer.calls.filter((c) => c.startsWith("upload"))).toEqual([`upload ${weightsKey}`]);
      expect(log.events.filter((e) => e.level !== "info")).toEqual([]);
      expect(existsSync(join(layout.weightsCacheDir, "yolo11n.pt"))).toBe(true);
    });
  });
});
