import type { S3Client } from "@aws-sdk/client-s3";
import { existsSync, mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { CheckpointTransfer } from "../../../agent/checkpointUploader";
import type { Logger } from "../../../agent/log";
import { downloadModel } from "../../../agent/modelSource";
import { RunCache } from "../../../agent/runCache";
import { runLayout } from "../../../runspec/runLayout";
import { localS3Client, S3Fake } from "../fakes/s3Fake";
import { sha256Hex } from "../fakes/standInCheckpoint";

/**
 * The downloads a node makes before its trainer starts (checkpoint, starting weights, run cache)
 * can be cut short: a spot notice leaves two minutes, and the agent must not spend them waiting
 * for bytes it will never use (docs/node-runtime.md, "Record semantics").
 */

const BUCKET = "yolo-train-dev-artifacts";
const RUN = "yolov8n-coco8-0123456789";
/** How long the proxy holds an answer back: far longer than a cut-short download may take. */
const HELD_MS = 10_000;
const BODY = Buffer.alloc(256 * 1024, 5);

let s3: S3Fake;
let client: S3Client;
let dir: string;
let lines: Array<{ level: string; event: string; fields: Record<string, unknown> }>;
const log: Logger = {
  info: (event, fields = {}) => lines.push({ level: "info", event, fields }),
  warn: (event, fields = {}) => lines.push({ level: "warn", event, fields }),
  error: (event, fields = {}) => lines.push({ level: "error", event, fields }),
};

beforeEach(async () => {
  s3 = await S3Fake.start([BUCKET]);
  client = localS3Client(s3.endpoint);
  dir = mkdtempSync(join(tmpdir(), "yolo-train-stopped-downloads-"));
  lines = [];
});
afterEach(async () => {
  client.destroy();
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Puts `key` and has the proxy hold back the answer to its next GET. */
async function slowObject(key: string, metadata?: Record<string, string>): Promise<void> {
  await s3.putObject(BUCKET, key, BODY, metadata);
  s3.proxy.injectFaults([{ requests: 1, delayMs: HELD_MS, only: (r) => r.method === "GET" && r.key === key }]);
}

const gets = (key: string): number => s3.proxy.requests.filter((r) => r.method === "GET" && r.key === key).length;

/** Aborts `controller` once a GET of `key` is waiting for its answer; resolves with when. */
async function abortWhenAsked(key: string, abort: () => void): Promise<number> {
  while (gets(key) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 100));
  abort();
  return Date.now();
}

/** How long the promise took to settle after `abortedAt`, and how. */
async function settleAfter(promise: Promise<unknown>, abortedAt: Promise<number>): Promise<{ ms: number; error: unknown }> {
  let error: unknown = null;
  await promise.catch((e: unknown) => (error = e));
  return { ms: Date.now() - (await abortedAt), error };
}

describe("a download cut short", () => {
  it("of a checkpoint rejects at once with an AbortError, retries nothing and leaves no file, partial or whole", async () => {
    const key = `runs/${RUN}/checkpoints/phase-0/last.pt`;
    await slowObject(key);
    const transfer = new CheckpointTransfer(client, BUCKET, log);
    const controller = new AbortController();
    const path = join(dir, "phase-0", "weights", "last.pt");

    const download = transfer.downloadFile(key, path, sha256Hex(BODY), undefined, controller.signal);
    const { ms, error } = await settleAfter(download, abortWhenAsked(key, () => controller.abort()));

    expect(error).toMatchObject({ name: "AbortError" });
    expect(ms).toBeLessThan(1_000);
    expect(gets(key)).toBe(1);
    expect(lines.filter((l) => l.event === "download-retry")).toEqual([]);
    expect([existsSync(path), existsSync(`${path}.download`)]).toEqual([false, false]);
  });

  it("that was stopped before it began asks S3 for nothing", async () => {
    const key = `runs/${RUN}/checkpoints/phase-0/last.pt`;
    await s3.putObject(BUCKET, key, BODY);
    const transfer = new CheckpointTransfer(client, BUCKET, log);
    const path = join(dir, "last.pt");

    await expect(transfer.downloadFile(key, path, sha256Hex(BODY), undefined, AbortSignal.abort())).rejects.toMatchObject({ name: "AbortError" });
    expect(gets(key)).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it("of the starting weights rejects at once and leaves no file", async () => {
    const key = "weights/starting.pt";
    await slowObject(key);
    const controller = new AbortController();
    const path = join(dir, "model", "starting.pt");

    const download = downloadModel(client, `s3://${BUCKET}/${key}`, path, log, controller.signal);
    const { ms, error } = await settleAfter(download, abortWhenAsked(key, () => controller.abort()));

    expect(error).toMatchObject({ name: "AbortError" });
    expect(ms).toBeLessThan(1_000);
    expect(gets(key)).toBe(1);
    expect([existsSync(path), existsSync(`${path}.download`)]).toEqual([false, false]);
  });

  it("of a run cache file (RunCache.stop during restore) ends the restore at once, with nothing reported skipped", async () => {
    const layout = runLayout({ runId: RUN, artifacts: { bucket: BUCKET, prefix: `runs/${RUN}/` } }, dir);
    const key = `${layout.cacheKeyPrefix}weights/yolo11n.pt`;
    await slowObject(key, { sha256: sha256Hex(BODY) });
    const cache = new RunCache(new CheckpointTransfer(client, BUCKET, log), layout, log, { beforeUpload: async () => {} });

    const { ms, error } = await settleAfter(cache.restore(), abortWhenAsked(key, () => cache.stop()));

    expect(error).toBeNull();
    expect(ms).toBeLessThan(1_000);
    expect(existsSync(join(layout.weightsCacheDir, "yolo11n.pt"))).toBe(false);
    expect(lines.filter((l) => l.level !== "info")).toEqual([]);
    expect(lines.find((l) => l.event === "cache-restore-done")?.fields).toMatchObject({ files: 0, skipped: 0 });
  });
});
