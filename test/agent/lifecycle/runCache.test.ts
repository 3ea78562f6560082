import { existsSync } from "fs";
import { join } from "path";
import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { eventsOfStart, expectCleanRun, expectExit, runKeys, storedRecord } from "../fakes/runExpectations";
import { sha256Hex, type StandInEvent } from "../fakes/standInCheckpoint";

/**
 * The run cache (docs/node-runtime.md, "Weights and label caches"): the first node uploads the
 * weights the trainer fetched and the label cache it built; a spot replacement, with an empty
 * scratch disk, restores both before its trainer starts and uploads nothing again.
 */

const EPOCH_MS = 200;
const REPLACEMENT = "i-0a1b2c3d4e5f60002";
const WEIGHTS = "cache/weights/yolo11n.pt";
const LABELS = "cache/labels/train.cache";
const CACHE_ENV = { STANDIN_WRITE_CACHE_FILES: "1", STANDIN_EPOCH_MS: String(EPOCH_MS) };

/** The stand-in's "cache-files" event (STANDIN_WRITE_CACHE_FILES): which files it found at its start. */
interface CacheFilesEvent {
  readonly existed: { readonly weights: boolean; readonly labels: boolean };
  readonly sha256: { readonly weights: string; readonly labels: string };
}

function cacheFilesEvent(events: readonly StandInEvent[]): CacheFilesEvent {
  const found = events.find((e) => (e.event as string) === "cache-files");
  if (!found) throw new Error(`the stand-in journalled no cache-files event: ${JSON.stringify(events.slice(0, 3))}`);
  return found as unknown as CacheFilesEvent;
}

/** The agent's JSON log lines of one event. */
function logEvents(stdout: string, event: string): Array<Record<string, unknown>> {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === event);
}

let world: NodeWorld;
beforeAll(async () => {
  world = await NodeWorld.start({ spec: { train: { epochs: 30, imgsz: 640, batch: 16, gpus: 1, hyperparameters: {} } } });
}, 120_000);
afterAll(async () => world?.close());

async function waitForKeys(keys: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const present = await world.s3.listKeys(world.bucket, `${world.prefix}cache/`);
    if (keys.every((k) => present.includes(`${world.prefix}${k}`))) return;
    if (Date.now() > deadline) throw new Error(`cache keys ${keys.join(", ")} not in S3 after ${timeoutMs} ms; found ${present.join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the run cache", () => {
  let firstNode: CacheFilesEvent;

  it("is uploaded by the first node once it trains, downloading nothing", async () => {
    const first = world.runAgent({ scratch: join(world.root, "scratch-1"), env: CACHE_ENV });
    await waitForKeys([WEIGHTS, LABELS], 20_000);
    // An object is listed as soon as its PUT lands, a moment before the agent hears back and logs
    // it; a spot notice in that moment stops the upload's bookkeeping ("cache-upload-stopped").
    await first.waitForStdout((stdout) => logEvents(stdout, "cache-uploaded").length >= 2, 20_000);
    world.imds.triggerSpotNotice();
    const exit = await expectExit(first, EXIT.interrupted);

    firstNode = cacheFilesEvent(eventsOfStart(world.standInEvents(), 1));
    expect(firstNode.existed).toEqual({ weights: false, labels: false });
    // What S3 holds is exactly what the trainer wrote, with its sha256 in the metadata.
    for (const [key, sha256] of [
      [WEIGHTS, firstNode.sha256.weights],
      [LABELS, firstNode.sha256.labels],
    ] as const) {
      const object = await world.s3.getObjectWithMetadata(world.bucket, `${world.prefix}${key}`);
      expect({ key, sha256: sha256Hex(object!.bytes), metadata: object!.metadata.sha256 }).toEqual({ key, sha256, metadata: sha256 });
    }
    expect(world.proxy.requests.filter((r) => r.method === "GET" && r.key.includes("/cache/"))).toEqual([]);
    expect(logEvents(exit.stdout, "cache-restore-done")).toMatchObject([{ files: 0, bytes: 0, skipped: 0 }]);
    expect(logEvents(exit.stdout, "cache-uploaded").map((e) => e.key)).toEqual([`${world.prefix}${WEIGHTS}`, `${world.prefix}${LABELS}`]);
    expect((await storedRecord(world)).phase).toBe("interrupted");
    await expectCleanRun(world);
  }, 60_000);

  it("is restored on the replacement node before its trainer starts, and not uploaded again", async () => {
    // Objects that must not reach the disk: one that fails verification, one in a subfolder.
    await world.s3.putObject(world.bucket, `${world.prefix}cache/weights/yolov8n.pt`, Buffer.from("not what the metadata says"), { sha256: "0".repeat(64) });
    await world.s3.putObject(world.bucket, `${world.prefix}cache/labels/nested/train.cache`, Buffer.from("x"), { sha256: sha256Hex(Buffer.from("x")) });

    world.replaceNode(REPLACEMENT);
    const scratch = join(world.root, "scratch-2");
    const writesBefore = world.proxy.writes.length;
    const second = world.runAgent({ scratch, env: CACHE_ENV });
    const exit = await expectExit(second, EXIT.done);

    const secondNode = cacheFilesEvent(eventsOfStart(world.standInEvents(), 2));
    expect({ existed: secondNode.existed, sha256: secondNode.sha256 }).toEqual({ existed: { weights: true, labels: true }, sha256: firstNode.sha256 });
    expect(logEvents(exit.stdout, "cache-restored").map((e) => e.key).sort()).toEqual([`${world.prefix}${LABELS}`, `${world.prefix}${WEIGHTS}`]);
    expect(logEvents(exit.stdout, "cache-restore-skipped").map((e) => e.key)).toEqual([`${world.prefix}cache/weights/yolov8n.pt`]);
    expect(logEvents(exit.stdout, "cache-object-ignored").map((e) => e.key)).toEqual([`${world.prefix}cache/labels/nested/train.cache`]);
    expect(existsSync(join(scratch, "weights", "yolov8n.pt"))).toBe(false);
    expect(existsSync(join(scratch, "runs", world.spec.runId, "label-cache", "nested"))).toBe(false);

    expect(world.proxy.writes.slice(writesBefore).filter((w) => w.key.includes("/cache/"))).toEqual([]);
    expect(logEvents(exit.stdout, "cache-uploaded")).toEqual([]);
    expect((await storedRecord(world)).phase).toBe("completed");
    expect((await runKeys(world)).filter((k) => k.startsWith("cache/"))).toEqual(["cache/labels/nested/train.cache", LABELS, WEIGHTS, "cache/weights/yolov8n.pt"]);
    await expectCleanRun(world);
  }, 60_000);
});
