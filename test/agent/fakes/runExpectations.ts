import type { AgentExit, AgentRun, NodeWorld } from "./nodeWorld";
import type { RunRecord } from "./runRecordAuditor";
import { checkpointHeader, sha256Hex, type StandInCheckpointHeader, type StandInEvent } from "./standInCheckpoint";

/**
 * Assertions the lifecycle scenarios share. They throw plain errors that carry the agent's output,
 * so a failing scenario shows what the agent logged.
 */

/** Waits for the agent and checks its exit code. */
export async function expectExit(agent: AgentRun, code: number): Promise<AgentExit> {
  const exit = await agent.exit;
  if (exit.code !== code) throw new Error(`agent (node ${agent.node}) exited ${String(exit.code)} (signal ${String(exit.signal)}), expected ${code}\n${agent.output}`);
  return exit;
}

/** The one teardown a finished node asks for: itself, desired capacity decremented. */
export function teardownOf(instanceId: string): Record<string, string> {
  return { Action: "TerminateInstanceInAutoScalingGroup", InstanceId: instanceId, ShouldDecrementDesiredCapacity: "true" };
}

/** Every Auto Scaling call the run made, in order, as `{Action, ...parameters}`: compare with `[teardownOf(id), …]`. */
export function autoScalingCalls(world: NodeWorld): Array<Record<string, string>> {
  return world.asg.calls.map((c) => ({ Action: c.action, ...c.params }));
}

/** The run record as S3 holds it; fails when there is none. */
export async function storedRecord(world: NodeWorld): Promise<RunRecord> {
  const record = await world.record();
  if (!record) throw new Error(`no run record at ${world.prefix}run.json; keys: ${(await world.allKeys()).join(", ")}`);
  return record;
}

/**
 * Keys under the run's prefix, without the prefix. The OTA release under the model's prefix in the
 * OTA bucket is left out (see {@link otaKeys}); anything else outside the run's prefix is shown as such.
 */
export async function runKeys(world: NodeWorld): Promise<string[]> {
  const release = `ota:${world.spec.ota.prefix}`;
  return (await world.allKeys()).filter((k) => !k.startsWith(release)).map((k) => (k.startsWith(world.prefix) ? k.slice(world.prefix.length) : `(outside the run prefix) ${k}`));
}

/** Keys under the model's prefix in the OTA bucket, without the prefix. */
export async function otaKeys(world: NodeWorld): Promise<string[]> {
  return (await world.s3.listKeys(world.spec.ota.bucket, world.spec.ota.prefix)).map((k) => k.slice(world.spec.ota.prefix.length));
}

/**
 * The record's checkpoint is in S3 whole (size and sha256 as recorded), is a stand-in `last.pt` of
 * `expected.phase` and, when given, `expected.epoch`, and the record labels it with the phase and
 * epoch the object holds; returns the object's header.
 */
export async function expectDurableCheckpoint(world: NodeWorld, record: RunRecord, expected: { phase: number; epoch?: number }): Promise<StandInCheckpointHeader> {
  const checkpoint = record.checkpoint;
  if (!checkpoint) throw new Error(`the ${record.phase} record names no checkpoint`);
  if (checkpoint.key !== `${world.prefix}checkpoints/phase-${expected.phase}/last.pt`) throw new Error(`record names checkpoint ${checkpoint.key}`);
  const bytes = await world.s3.getObject(world.bucket, checkpoint.key);
  if (!bytes) throw new Error(`record names ${checkpoint.key}, which is not in S3`);
  const header = checkpointHeader(bytes);
  const epoch = expected.epoch ?? header.epoch;
  const actual = { key: checkpoint.key, sha256: sha256Hex(bytes), bytes: bytes.length, kind: header.kind, phase: header.phase, epoch: header.epoch, recordedPhase: checkpoint.phase, recordedEpoch: checkpoint.epoch };
  const wanted = { key: checkpoint.key, sha256: checkpoint.sha256, bytes: checkpoint.bytes, kind: "last", phase: expected.phase, epoch, recordedPhase: expected.phase, recordedEpoch: epoch };
  if (JSON.stringify(actual) !== JSON.stringify(wanted)) throw new Error(`checkpoint in S3 ${JSON.stringify(actual)}\nexpected ${JSON.stringify(wanted)}`);
  return header;
}

/** The stand-in's events of one trainer process (by start order, 1-based). */
export function eventsOfStart(events: readonly StandInEvent[], start: number): StandInEvent[] {
  const starts = events.filter((e) => e.event === "start");
  const pid = starts[start - 1]?.pid;
  if (pid === undefined) throw new Error(`the trainer did not start ${start} times (${starts.length})`);
  return events.filter((e) => e.pid === pid);
}

/** The newest checkpoint a trainer process wrote: `{phase, epoch}`. */
export function lastCheckpointWritten(events: readonly StandInEvent[]): { phase: number; epoch: number } {
  const last = [...events].reverse().find((e) => e.event === "checkpoint");
  if (!last || last.phase === undefined || last.epoch === undefined) throw new Error("the trainer wrote no checkpoint");
  return { phase: last.phase, epoch: last.epoch };
}

/** Phase names of the record's history, in order, consecutive repeats collapsed. */
export function historyPhases(record: RunRecord): string[] {
  const out: string[] = [];
  for (const entry of record.history ?? []) if (out[out.length - 1] !== entry.phase) out.push(entry.phase);
  return out;
}

/** Parsed lines of an uploaded progress.jsonl. */
export function progressLines(bytes: Buffer | undefined): Array<{ phase: number; epoch: number; epochs: number }> {
  if (!bytes) return [];
  return bytes
    .toString("utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { phase: number; epoch: number; epochs: number });
}

/**
 * The checks every scenario ends with: no record ever named a missing or partial object; no trainer
 * left running. `damaged`: sha256s of checkpoints the test itself damaged in S3, which records
 * naming them (until the agent finds out) are allowed to.
 */
export async function expectCleanRun(world: NodeWorld, damaged: readonly string[] = []): Promise<void> {
  const violations = world.auditor.violations.filter((v) => !damaged.some((sha256) => v.includes(sha256)));
  if (violations.length > 0) throw new Error(`run records named objects S3 did not hold whole:\n${violations.join("\n")}`);
  const live = await world.survivingTrainers();
  if (live.length > 0) throw new Error(`trainer processes still running after the agent exited: ${live.join(", ")}`);
}

/**
 * Waits until the newest record the agent sent satisfies `ready`, and returns it. It reads what the
 * proxy saw (the auditor's copy), not S3, so no read races the agent's writes.
 */
export async function waitForRecord<R extends RunRecord = RunRecord>(world: NodeWorld, ready: (record: R) => boolean, timeoutMs = 20_000): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = world.auditor.versions.at(-1)?.record as R | undefined;
    if (record !== undefined && ready(record)) return record;
    if (Date.now() > deadline) throw new Error(`no record within ${timeoutMs} ms was as the test waited for; the newest: ${JSON.stringify(record)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
