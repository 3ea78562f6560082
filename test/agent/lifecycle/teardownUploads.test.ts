import { EXIT, NodeWorld } from "../fakes/nodeWorld";
import { autoScalingCalls, expectCleanRun, expectDurableCheckpoint, expectExit, storedRecord, teardownOf } from "../fakes/runExpectations";
import type { ProxiedRequest } from "../fakes/s3FaultProxy";

/**
 * From trainer exit to teardown (docs/node-runtime.md, "On success…"): what must be durable goes up
 * at once, what S3 already holds does not go up again, and the OTA release copies its files at once.
 * Overlap is read from the S3 proxy's request log, never from how long the run took.
 */

/** From the first request's start to the last one's end. */
function span(requests: readonly ProxiedRequest[]): { start: number; end: number } {
  if (requests.length === 0) throw new Error("no requests");
  return { start: Math.min(...requests.map((r) => r.startedAt)), end: Math.max(...requests.map((r) => r.endedAt ?? Infinity)) };
}

/** Whether every interval was still open when the last of them began: side by side, not one after another. */
function overlap(spans: ReadonlyArray<{ start: number; end: number }>): boolean {
  return Math.max(...spans.map((s) => s.start)) < Math.min(...spans.map((s) => s.end));
}

/** PUT and POST requests for a key: a single PutObject or CopyObject, or a multipart upload's create, parts and completion. */
function writesOf(world: NodeWorld, bucket: string, key: string): ProxiedRequest[] {
  return world.proxy.requests.filter((r) => r.bucket === bucket && r.key === key && (r.method === "PUT" || r.method === "POST"));
}

/** The request that made an object whole: a PutObject, or the CompleteMultipartUpload POST. */
const completes = (r: ProxiedRequest): boolean => (r.method === "PUT" && !/uploadId=/.test(r.query)) || (r.method === "POST" && /uploadId=/.test(r.query));

let world: NodeWorld;
afterEach(async () => world?.close());

describe("after the trainer exits 0", () => {
  it("does not upload the final last.pt again when S3 already holds its bytes", async () => {
    world = await NodeWorld.start();
    // The trainer spends 3 s on its final evaluation and export (the watcher makes the last epoch's
    // last.pt durable meanwhile), then saves last.pt once more with the same bytes and exits.
    const agent = world.runAgent({ env: { STANDIN_EPOCH_MS: "300", STANDIN_FINAL_MS: "3000", STANDIN_RESAVE_LAST: "1" } });
    await expectExit(agent, EXIT.done);

    const events = world.standInEvents();
    const lastEpoch = events.filter((e) => e.event === "checkpoint").at(-1)!;
    const finalSave = events.find((e) => e.event === "final-save")!;
    expect(lastEpoch).toMatchObject({ phase: 0, epoch: 4 });
    expect(finalSave).toMatchObject({ phase: 0, epoch: 4, sha256: lastEpoch.sha256 });

    const key = `${world.prefix}checkpoints/phase-0/last.pt`;
    const writes = writesOf(world, world.bucket, key);
    // The scenario holds: an upload made after the last epoch's save was whole before the final save.
    expect(writes.some((r) => completes(r) && r.status === 200 && r.startedAt >= lastEpoch.at && r.endedAt! < finalSave.at)).toBe(true);
    // Nothing was sent for the checkpoint after the final save, yet the record names exactly its bytes.
    expect(writes.filter((r) => r.startedAt >= finalSave.at)).toEqual([]);
    const record = await storedRecord(world);
    expect(record.phase).toBe("completed");
    await expectDurableCheckpoint(world, record, { phase: 0, epoch: 4 });
    expect(record.checkpoint).toMatchObject({ sha256: finalSave.sha256, bytes: finalSave.bytes });
    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    await expectCleanRun(world);
  }, 60_000);

  it("uploads the model files at once and copies them into the OTA release at once, manifest after the files, channel last", async () => {
    world = await NodeWorld.start();
    const agent = world.runAgent({ env: { STANDIN_EPOCH_MS: "300", STANDIN_FINAL_MS: "1000" } });
    await agent.waitForStandIn((e) => e.event === "checkpoint" && e.epoch === 4);
    // From the last epoch on, every S3 answer comes 400 ms late: files sent one after another would
    // show as requests that do not overlap.
    world.proxy.injectFaults([{ forMs: 120_000, delayMs: 400 }]);
    await expectExit(agent, EXIT.done);
    const exitedAt = world.standInEvents().find((e) => e.event === "exit")!.at;

    const model = ["model/best.pt", "model/best.onnx", "model/result.json"].map((name) => writesOf(world, world.bucket, `${world.prefix}${name}`));
    expect(model.map((writes) => writes.filter(completes).length)).toEqual([1, 1, 1]);
    expect(model.flat().every((r) => r.startedAt >= exitedAt && r.fault === "delayed")).toBe(true);
    expect(overlap(model.map(span))).toBe(true);

    const ota = world.spec.ota;
    const version = `${ota.prefix}versions/0000000001/`;
    const copies = ["model.onnx", "model.pt"].map((name) => writesOf(world, ota.bucket, `${version}${name}`));
    expect(copies.map((writes) => writes.map((r) => /x-id=CopyObject/.test(r.query)))).toEqual([[true], [true]]);
    expect(overlap(copies.map(span))).toBe(true);
    // The copies start only once the model files are whole in the artifact bucket.
    expect(Math.min(...copies.flat().map((r) => r.startedAt))).toBeGreaterThanOrEqual(Math.max(...model.map((writes) => span(writes).end)));

    // docs/ota.md's order: every file verified, then manifest and signature (together), then the channel.
    const checked = Math.max(...["model.onnx", "model.pt"].map((name) => span(world.proxy.requests.filter((r) => r.key === `${version}${name}` && r.method === "HEAD")).end));
    const signed = ["manifest.json", "manifest.json.sig"].map((name) => writesOf(world, ota.bucket, `${version}${name}`));
    expect(Math.min(...signed.map((w) => span(w).start))).toBeGreaterThanOrEqual(checked);
    expect(overlap(signed.map(span))).toBe(true);
    const channel = writesOf(world, ota.bucket, `${ota.prefix}channels/candidate.json`);
    expect(span(channel).start).toBeGreaterThanOrEqual(Math.max(...signed.map((w) => span(w).end)));

    const record = await storedRecord(world);
    expect(record).toMatchObject({ phase: "completed", release: { version: 1, channels: ["candidate"] } });
    expect(autoScalingCalls(world)).toEqual([teardownOf(world.imds.instanceId)]);
    await expectCleanRun(world);
  }, 60_000);
});
