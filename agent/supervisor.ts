import { mkdir, readFile, stat, writeFile } from "fs/promises";
import type { RunSpec } from "../runspec";
import { effectiveLimits, type AgentConfig } from "./agentConfig";
import type { FileDigest } from "./checkpointIntegrity";
import { CheckpointShipper } from "./checkpointShipper";
import { concurrencyLimit } from "./concurrency";
import type { CheckpointTransfer } from "./checkpointUploader";
import { NOT_IDLE, observeGpu, type IdleState } from "./idleDetector";
import { describeError, type Logger } from "./log";
import { ProgressTail } from "./progressTail";
import { localModelPath, parseS3Uri } from "./modelSource";
import { RunCache } from "./runCache";
import { specPhases, type RunLayout } from "../runspec/runLayout";
import { FINAL_PHASES, parseStoredRecord, type CheckpointRef, type EndPhase, type ModelArtifacts, type ReleaseRef, type RungOutcome, type RunRecord, type SweepStop } from "../runspec/runRecord";
import { decideRung, rungAt, type RungAccess, type RungMeasurement } from "./sweep/rungDecision";
import { parseProgressLine, type EpochProgress } from "./progress";
import { applyEvent, startRecord, type RecordState, type RunEvent } from "./runRecord";
import { RecordPublisher, type RunRecordStore } from "./runRecordStore";
import type { RunLease } from "./runLease";
import { IntegrityError } from "./checkpointUploader";
import type { SpotNotice } from "./spotNotice";
import { exportVerdict, parseTrainerResult, type TrainerResult } from "./trainerResult";
import type { TrainerExit, TrainerLaunch, TrainerProcess } from "./trainerProcess";
import { publishesMetrics } from "./trainingMetrics";
import { CheckpointVersions, sameSignature, scanCheckpoints, signatureOf, type WeightsFile } from "./weightsWatcher";

/** Exit codes of docs/node-runtime.md. */
export const EXIT = { done: 0, invalidInput: 64, internalError: 70, interrupted: 75 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The history note of a completed sweep trial: its model stays in the artifact bucket, and the sweep keeper releases only the sweep's winner (issue 12). */
export const SWEEP_TRIAL_RELEASE_NOTE = "a sweep trial: not released on its own; the sweep releases its winner";

/** What a completed run hands to the OTA publisher (issue 4) once its model files are in S3. */
export interface CompletedModel {
  readonly spec: RunSpec;
  readonly result: TrainerResult;
  /** Full keys in `spec.artifacts.bucket`. */
  readonly artifacts: ModelArtifacts;
  readonly digests: { readonly best: FileDigest; readonly onnx: FileDigest; readonly result: FileDigest };
}

/**
 * Hook for OTA publishing (issue 4): called after the model files are durable in S3 and before
 * the record says `completed`, only when the trainer's ONNX check passed (otherwise the record gets
 * `releaseBlocked`, see `exportVerdict`); what it returns goes into the record's `release`. A failure is
 * logged and noted in the record's history; the run still counts as completed (the model is safe
 * in the artifact bucket and can be published again).
 */
export type ModelPublisher = (model: CompletedModel) => Promise<ReleaseRef | void>;

/** Everything with I/O that the supervisor uses; main.ts builds the real ones. */
export interface SupervisorDeps {
  readonly config: AgentConfig;
  readonly spec: RunSpec;
  readonly layout: RunLayout;
  readonly log: Logger;
  readonly store: RunRecordStore;
  /** The run's single-writer lease: taken before anything is written, renewed while the agent runs. */
  readonly lease: Pick<RunLease, "acquire" | "renew" | "holds" | "release" | "confirm" | "lostReason" | "holder">;
  readonly transfer: CheckpointTransfer;
  readonly spotNotice: () => Promise<SpotNotice | null>;
  readonly sampleGpu: () => Promise<number[] | null>;
  readonly startTrainer: (launch: TrainerLaunch) => TrainerProcess;
  /** Requests teardown (TerminateInstanceInAutoScalingGroup); throws when it could not. */
  readonly teardown: () => Promise<void>;
  /** Fetches `s3://` starting weights to a local path (the trainer has no AWS access); `signal` cuts it short. */
  readonly fetchModel: (uri: string, path: string, signal?: AbortSignal) => Promise<void>;
  /** Reads an SSM SecureString parameter (the W&B API key). The value is never logged. */
  readonly readSecret: (name: string) => Promise<string>;
  readonly publishModel?: ModelPublisher;
  /**
   * Training metrics for the dashboard: called with the record at start, after each epoch and at
   * each phase change. Must return at once (best-effort; see metricsPublisher.ts); a throw is logged.
   */
  readonly publishMetrics?: (record: RunRecord, atMs: number) => void;
  /** The sweep's rung records (issue 12); required when the spec has `sweep`, unused otherwise. */
  readonly rungs?: RungAccess;
  readonly now?: () => number;
}

type Outcome =
  | { readonly kind: "exited"; readonly exit: TrainerExit }
  | { readonly kind: "spot"; readonly notice: SpotNotice }
  | { readonly kind: "signal"; readonly signal: string }
  | { readonly kind: "hung"; readonly idleForMs: number }
  | { readonly kind: "timed-out" }
  | { readonly kind: "lease-lost" }
  /** A sweep trial that ASHA stopped at a rung (issue 12). */
  | { readonly kind: "stopped-early"; readonly outcome: RungOutcome; readonly reason: string };

interface Resume {
  readonly path: string;
  readonly phase: number;
}

/** Why a resume cannot go on; `retryable` when S3 could not be read (a later launch may), not when the checkpoint is bad. */
interface ResumeFailure {
  readonly retryable: boolean;
  readonly reason: string;
}

/** A loop that runs `tick`, waits `ms`, and again, until stopped; ticks never overlap. */
class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly ms: number,
    private readonly tick: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(immediately = false): this {
    this.schedule(immediately ? 0 : this.ms);
    return this;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick()
        .catch(this.onError)
        .finally(() => this.schedule(this.ms));
    }, delay);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

const RECORD_TICK_MS = 60_000;
/** Trainer exit status for unusable inputs (docs/node-runtime.md): a retry would fail the same way. */
const TRAINER_EXIT_UNUSABLE_INPUTS = 2;
/** Uploads after a spot notice must finish before the instance goes; AWS gives two minutes. */
const SPOT_WARNING_MS = 120_000;
const SPOT_SAFETY_MS = 10_000;
/**
 * Uploads after a successful trainer exit that run at once: result.json, the ONNX file, best.pt and
 * the final last.pt, all together today. Each has up to DEFAULT_QUEUE_SIZE parts of DEFAULT_PART_SIZE
 * in flight (checkpointUploader.ts), so this also bounds their memory (4 × 8 × 16 MiB).
 */
const FINAL_UPLOADS_AT_ONCE = 4;

/** S3 answered, and what it holds is not the recorded object: waiting will not mend it. */
function isUnusableObject(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return error instanceof IntegrityError || ["NoSuchKey", "NoSuchVersion", "NotFound"].includes(e?.name ?? "") || e?.$metadata?.httpStatusCode === 404;
}

/** `key` with its version, for notes and logs. */
function describeRef(ref: CheckpointRef): string {
  return ref.versionId !== null ? `${ref.key} (version ${ref.versionId})` : ref.key;
}

function describeExit(exit: TrainerExit): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${String(exit.code)}`;
}

/**
 * The run agent's state machine (docs/node-runtime.md): resume or start, supervise the trainer,
 * ship checkpoints, react to spot notices, idle GPUs, the runtime limit, failures and success,
 * keep the run record current, and tear down at the end. Returns the process exit code.
 */
export class Supervisor {
  private readonly now: () => number;
  private readonly limits: ReturnType<typeof effectiveLimits>;
  private readonly agentStartedAtMs: number;
  private readonly deadlineMs: number;
  private readonly versions = new CheckpointVersions();
  private readonly publisher: RecordPublisher;
  private readonly shipper: CheckpointShipper;
  /** Keeps the trainer's best.pt durable beside last.pt, so a resumed run still publishes its best epoch. */
  private readonly bestShipper: CheckpointShipper;
  /** Why this agent stopped being the run's writer (its lease was lost); null while it is. */
  private leaseLostNote: string | null = null;
  private onLeaseLost: (() => void) | null = null;
  private leaseRenewal: Ticker | null = null;
  /** Named weights and label caches carried between the run's nodes (docs/node-runtime.md, "Weights and label caches"). */
  private readonly caches: RunCache;
  private state: RecordState | null = null;
  private stopRequest: string | null = null;
  private onStopRequest: ((signal: string) => void) | null = null;
  /**
   * What the agent is doing while no trainer runs (start-up, a relaunch's preparation), for the note
   * of a spot notice or stop signal that comes meanwhile; null while a trainer runs (its own poll
   * acts) and once it succeeded (a notice during the model upload is ignored).
   */
  private preLaunchStage: string | null = "at agent start";
  /** Set by a notice or signal that came in a pre-launch stage: the `interrupted` note. */
  private preLaunchStopNote: string | null = null;
  /** Aborted with it: cuts the download in flight short. */
  private readonly preLaunchStop = new AbortController();
  private lastPublishMs = 0;
  private trainer: TrainerProcess | null = null;
  /** Extra trainer environment prepared once per agent (starting weights path, tracking secret). */
  private trainerInputs: Record<string, string> = {};
  /** Rungs this agent saw promoted: their later progress lines (after a resume) need no second look. */
  private readonly rungsPromoted = new Set<number>();
  /** Rung measurements whose decision failed on S3: retried at each later epoch line (see decideRungs). */
  private readonly rungsPending = new Map<number, RungMeasurement>();
  /** Rung decisions run one at a time, beside training. */
  private rungChain: Promise<unknown> = Promise.resolve();
  /** False once the attempt's outcome is decided: a late decision must not touch the record any more. */
  private rungsOpen = true;

  constructor(private readonly deps: SupervisorDeps) {
    this.now = deps.now ?? Date.now;
    this.agentStartedAtMs = this.now();
    this.limits = effectiveLimits(deps.config, deps.spec.limits);
    this.deadlineMs = this.agentStartedAtMs + this.limits.maxRuntimeMs;
    this.publisher = new RecordPublisher(deps.store, deps.layout.progressFile, deps.log, (error) => this.leaseLost(error.message));
    this.shipper = new CheckpointShipper(
      deps.transfer,
      deps.layout,
      this.versions,
      {
        phaseEpochs: (phase) => specPhases(deps.spec)[phase]?.epochs ?? deps.spec.train.epochs,
        durable: () => this.state?.record.checkpoint ?? null,
        onShipped: (checkpoint) => this.dispatch({ type: "checkpoint-uploaded", atMs: this.now(), checkpoint }),
        // The key is rewritten in place: no record may be written while it changes, or S3 could hold
        // a newer checkpoint than the record names (see RecordPublisher.hold).
        beforeUpload: async () => {
          this.assertWriter("checkpoint upload");
          await this.publisher.hold();
        },
        afterUpload: () => this.publisher.release(),
      },
      deps.log,
    );
    this.bestShipper = new CheckpointShipper(
      deps.transfer,
      deps.layout,
      this.versions,
      {
        file: "best.pt",
        phaseEpochs: (phase) => specPhases(deps.spec)[phase]?.epochs ?? deps.spec.train.epochs,
        durable: () => this.state?.record.bestCheckpoint ?? null,
        onShipped: (checkpoint) => this.dispatch({ type: "best-uploaded", atMs: this.now(), checkpoint }),
        // No hold: the record names the version it read back (or, without versions, a resume accepts
        // the newer object by its own sha256 metadata), so records need not wait for best.pt.
        beforeUpload: async () => this.assertWriter("best.pt upload"),
        afterUpload: () => undefined,
      },
      deps.log,
    );
    // Cache files are a convenience: they go up only when no checkpoint upload waits or runs.
    this.caches = new RunCache(deps.transfer, deps.layout, deps.log, { beforeUpload: () => this.shipper.idle() }, this.now);
  }

  /** Throws unless this agent still holds the run's lease: nothing is written to the run by another. */
  private assertWriter(what: string): void {
    if (!this.deps.lease.holds()) throw new Error(`${what} skipped: this agent does not hold the run's lease (${this.deps.lease.lostReason ?? "not renewed in time"})`);
  }

  /**
   * Another agent took the run over (or this one's record write met another writer): stop at once,
   * writing nothing more, neither checkpoint nor record, and leave the node without teardown.
   */
  private leaseLost(reason: string): void {
    if (this.leaseLostNote !== null) return;
    this.leaseLostNote = reason;
    this.log.error("run-taken-over", { reason, note: "stopping without writing: the run has another writer" });
    this.leaseRenewal?.stop();
    this.caches.stop();
    if (this.preLaunchStage !== null) this.stopBeforeLaunch(`lease lost ${this.preLaunchStage}: ${reason}`);
    this.onLeaseLost?.();
  }

  /** Kills the trainer's process group, if one runs; for an agent that is about to die of an internal error. */
  abort(): void {
    this.trainer?.signal("SIGKILL");
  }

  /** SIGTERM/SIGINT: handled like a spot notice (checkpoint, "interrupted", exit 75, no teardown). */
  requestStop(signal: string): void {
    if (this.stopRequest !== null) return;
    this.stopRequest = signal;
    this.deps.log.warn("stop-requested", { signal });
    if (this.preLaunchStage !== null) this.stopBeforeLaunch(`agent received ${signal} ${this.preLaunchStage}`);
    this.onStopRequest?.(signal);
  }

  /**
   * A spot notice or stop signal before a trainer launch: the node is about to vanish, so what is in
   * flight (a download) is cut short and no trainer starts; the caller records `interrupted`.
   */
  private stopBeforeLaunch(note: string): void {
    if (this.preLaunchStopNote !== null) return;
    this.preLaunchStopNote = `${note}; no trainer launched`;
    this.preLaunchStop.abort();
    this.caches.stop();
  }

  /** Enters a pre-launch stage; returns the signal that aborts its downloads. */
  private stage(label: string): AbortSignal {
    this.preLaunchStage = label;
    return this.preLaunchStop.signal;
  }

  /** The spot poll while no trainer runs (runAttempt polls on its own while one does). */
  private async pollBeforeLaunch(first: boolean): Promise<void> {
    if (this.preLaunchStage === null || this.preLaunchStopNote !== null) return;
    const notice = await this.deps.spotNotice();
    // A trainer launched meanwhile: its own poll sees the notice.
    if (notice === null || this.preLaunchStage === null) return;
    // Found by the poll made as the agent came up: it was there before the agent.
    const when = first ? "at agent start" : this.preLaunchStage;
    this.log.warn("spot-notice", { action: notice.action, terminationTime: notice.time, when });
    this.stopBeforeLaunch(`spot interruption notice ${when}: ${notice.action}${notice.time ? ` at ${notice.time}` : ""}`);
  }

  private get log(): Logger {
    return this.deps.log;
  }

  private dispatch(event: RunEvent): void {
    if (this.state === null) return;
    const phaseBefore = this.state.record.phase;
    this.state = applyEvent(this.state, event);
    this.lastPublishMs = this.now();
    const changedPhase = this.state.record.phase !== phaseBefore || event.type === "trainer-started" || event.type === "ended";
    if (event.type === "checkpoint-uploaded" || event.type === "checkpoint-unusable") {
      const { checkpoint, previousCheckpoint, bestCheckpoint, checkpointFailures } = this.state.record;
      this.publisher.amendPending((record) => ({ ...record, checkpoint, previousCheckpoint, bestCheckpoint, checkpointFailures }));
    }
    this.publisher.publish(this.state.record, changedPhase);
    if (publishesMetrics(event)) this.metrics(this.state.record, event.atMs);
  }

  private metrics(record: RunRecord, atMs: number): void {
    try {
      this.deps.publishMetrics?.(record, atMs);
    } catch (error) {
      this.log.warn("metrics-publish-failed", { error: describeError(error) });
    }
  }

  private get record() {
    if (this.state === null) throw new Error("record not started");
    return this.state.record;
  }

  async run(): Promise<ExitCode> {
    // From the agent's start, not only with the trainer: a notice during a long resume download
    // would otherwise go unseen, and a trainer be launched (an attempt spent) on a vanishing node.
    let first = true;
    const spot = new Ticker(
      this.deps.config.spotPollMs,
      () => this.pollBeforeLaunch(first).finally(() => (first = false)),
      (error) => this.log.warn("spot-poll-failed", { error: describeError(error) }),
    ).start(true);
    try {
      return await this.supervise();
    } finally {
      spot.stop();
      this.leaseRenewal?.stop();
      // Every end path released it already; this covers an internal error. Never after a loss.
      if (this.leaseLostNote === null) await this.deps.lease.release();
    }
  }

  /**
   * Takes the run's lease before anything is written (docs/node-runtime.md, "One agent per run").
   * Returns null once this agent holds it, or the exit code when it must not run: the run completed
   * meanwhile (teardown), the lease stayed held elsewhere for the whole wait (teardown: this node is
   * surplus), or a spot notice or signal came while waiting (75, nothing written).
   */
  private async takeLease(): Promise<ExitCode | null> {
    const { config, log, spec, layout, lease, store } = this.deps;
    let completed = false;
    let finalPhase: string | undefined;
    const signal = this.stage("while waiting for the run lease");
    let outcome: Awaited<ReturnType<RunLease["acquire"]>>;
    try {
      outcome = await lease.acquire({
        maxWaitMs: config.leaseWaitMs,
        pollMs: Math.max(100, Math.min(5_000, Math.floor(config.leaseTtlMs / 3))),
        signal,
        stopWaiting: async () => {
          if (this.preLaunchStopNote !== null) return true;
          // A run that another agent completed while this one waited needs nothing more from it.
          // A failed look is no answer: the next poll looks again (the lease decides meanwhile).
          const stored = await store.readRecord().catch((error: unknown) => {
            log.warn("record-read-failed", { key: layout.recordKey, error: describeError(error), note: "while waiting for the lease; looking again" });
            return null;
          });
          const phase = stored !== null ? parseStoredRecord(stored.json, spec.runId)?.phase : undefined;
          completed = phase !== undefined && FINAL_PHASES.includes(phase);
          if (completed) finalPhase = phase;
          return completed;
        },
      });
    } catch (error) {
      if (this.preLaunchStopNote !== null) return EXIT.interrupted;
      log.error("lease-failed", { key: layout.leaseKey, error: describeError(error) });
      return EXIT.internalError;
    }
    if (outcome.kind === "stopped") {
      if (completed) {
        if (finalPhase === "stopped-early") log.info("already-stopped-early", { runId: spec.runId, note: "the sweep stopped this trial; not training again; tearing down" });
        else log.info("already-completed", { runId: spec.runId, note: "not training again; tearing down" });
        return this.teardown();
      }
      log.warn("stopped-before-lease", { note: `${this.preLaunchStopNote ?? "stopped"}; nothing written: this agent never held the run` });
      return EXIT.interrupted;
    }
    if (outcome.kind === "held-elsewhere") {
      log.warn("lease-wait-over", {
        holder: outcome.holder,
        waitedMs: config.leaseWaitMs,
        note: "another agent still holds this run: this node is surplus and terminates itself without training",
      });
      return this.teardown();
    }
    store.guardWith(lease);
    this.leaseRenewal = new Ticker(
      Math.max(100, Math.floor(config.leaseTtlMs / 3)),
      async () => {
        if (!(await lease.renew())) this.leaseLost(lease.lostReason ?? "lease lost");
      },
      (error) => log.warn("lease-renew-failed", { error: describeError(error), holds: lease.holds() }),
    ).start();
    return null;
  }

  private async supervise(): Promise<ExitCode> {
    const { log, spec, layout } = this.deps;
    log.info("agent-started", {
      runId: spec.runId,
      workdir: layout.workdir,
      maxRuntimeMs: this.limits.maxRuntimeMs,
      idleAfterMs: this.limits.idleAfterMs,
      idleGpuPercent: this.limits.idleGpuPercent,
      maxAttempts: spec.limits.maxAttempts,
      lease: this.deps.lease.holder,
    });
    const gate = await this.takeLease();
    if (gate !== null) return gate;
    this.stage("while reading the run record");

    let stored: { readonly json: unknown } | null;
    try {
      stored = await this.deps.store.readRecord();
    } catch (error) {
      log.error("record-read-failed", { key: layout.recordKey, error: describeError(error) });
      return EXIT.internalError;
    }
    const previous = stored === null ? null : parseStoredRecord(stored.json, spec.runId, layout);
    if (stored !== null && previous === null) log.warn("record-unusable", { key: layout.recordKey, note: "not a record of this run; starting afresh" });

    if (previous?.phase === "completed") {
      log.info("already-completed", { runId: spec.runId, note: "not training again; tearing down" });
      return this.teardown();
    }
    if (previous?.phase === "stopped-early") {
      log.info("already-stopped-early", { runId: spec.runId, stoppedAt: previous.sweep?.stoppedAt ?? null, note: "the sweep stopped this trial; not training again; tearing down" });
      return this.teardown();
    }

    const phases = specPhases(spec);
    this.state = startRecord({
      runId: spec.runId,
      previous,
      atMs: this.agentStartedAtMs,
      trainingPhases: phases.length,
      firstPhaseEpochs: phases[0]?.epochs ?? spec.train.epochs,
      usdPerHour: spec.pricing.usdPerHour,
    });
    this.publisher.publish(this.record, true);
    this.metrics(this.record, this.agentStartedAtMs);

    await mkdir(layout.workdir, { recursive: true });
    let resume: Resume | null = null;
    let startNote: string | undefined;
    if (this.record.attempts < spec.limits.maxAttempts && this.record.checkpoint !== null) {
      const prepared = await this.prepareResume(this.record.checkpoint);
      ({ resume, note: startNote } = prepared);
      if (prepared.fail !== undefined) return this.failOnResume(prepared.fail);
      if (this.preLaunchStopNote !== null) return this.interrupted(this.preLaunchStopNote);
    }
    this.stage("during the progress download");
    await this.restoreProgress();
    // Files already on disk (the downloaded checkpoint; a previous container's) are not news.
    for (const file of await scanCheckpoints(layout.workdir)) this.versions.markShipped(file.path, file.signature);
    const tail = new ProgressTail(layout.progressFile, (await stat(layout.progressFile).catch(() => null))?.size ?? 0);
    if (spec.sweep !== undefined && this.preLaunchStopNote === null) {
      // Rungs an earlier node trained past: their decision is in the rung records already (or is
      // taken now from the progress line), and a stop there means no further training at all.
      this.stage("while deciding the sweep's rungs already trained past");
      const stop = await this.decidePassedRungs();
      if (this.preLaunchStopNote !== null) return this.interrupted(this.preLaunchStopNote);
      if (stop !== null) return this.stoppedEarly(stop.outcome, stop.reason);
    }
    if (this.record.attempts < spec.limits.maxAttempts && this.preLaunchStopNote === null) {
      const problem = await this.prepareTrainerInputs();
      // A download cut short by the stop is no reason to fail the run: the next node resumes it.
      if (this.preLaunchStopNote !== null) return this.interrupted(this.preLaunchStopNote);
      if (problem !== null) return this.finish("failed", problem);
      // What earlier nodes of the run fetched and built, so this one need not again (best effort).
      this.stage("during the run cache restore");
      await this.caches.restore();
    }
    this.stage("before the trainer started");

    for (;;) {
      if (this.record.attempts >= spec.limits.maxAttempts) {
        return this.finish("failed", `attempts exhausted: ${this.record.attempts} of limits.maxAttempts = ${spec.limits.maxAttempts} used${startNote ? `; ${startNote}` : ""}`);
      }
      if (this.preLaunchStopNote !== null) return this.interrupted(this.preLaunchStopNote);
      if (this.stopRequest !== null) return this.interrupted(`agent received ${this.stopRequest} before the trainer started`);
      if (this.now() >= this.deadlineMs) return this.finish("timed-out", this.timeoutNote());

      // From here runAttempt's own spot poll and stop handling act.
      this.preLaunchStage = null;
      const outcome = await this.runAttempt(resume, tail, startNote);
      switch (outcome.kind) {
        case "spot": {
          const deadline = this.spotDeadline(outcome.notice);
          await this.shipFinals(deadline);
          return this.interrupted(`spot interruption notice: ${outcome.notice.action}${outcome.notice.time ? ` at ${outcome.notice.time}` : ""}`);
        }
        case "lease-lost":
          return this.interrupted(`lease lost: ${this.leaseLostNote ?? "another agent took the run over"}`);
        case "stopped-early":
          // The trial's last epochs stay durable (a person may want them), but nothing is released.
          await this.shipFinals();
          return this.stoppedEarly(outcome.outcome, outcome.reason);
        case "signal":
          await this.shipFinals(this.now() + SPOT_WARNING_MS - SPOT_SAFETY_MS);
          return this.interrupted(`agent received ${outcome.signal}`);
        case "hung":
          await this.shipFinals();
          return this.finish(
            "hung",
            `GPU utilisation below ${this.limits.idleGpuPercent}% for ${Math.round(outcome.idleForMs / 1000)} s during training (limit ${Math.round(this.limits.idleAfterMs / 1000)} s)`,
          );
        case "timed-out":
          await this.shipFinals();
          return this.finish("timed-out", this.timeoutNote());
        case "exited": {
          if (outcome.exit.code === 0) {
            const completed = await this.complete();
            if (completed !== null) return completed;
            startNote = "retry: trainer exited 0 without a usable result.json";
          } else {
            startNote = `retry: trainer ${describeExit(outcome.exit)}`;
          }
          await this.shipFinals();
          if (outcome.exit.code === TRAINER_EXIT_UNUSABLE_INPUTS) {
            return this.finish("failed", `trainer ${describeExit(outcome.exit)}: its inputs are unusable (see its stderr); not retried`);
          }
          if (this.record.attempts >= spec.limits.maxAttempts) {
            return this.finish("failed", `trainer failed on attempt ${this.record.attempts} of limits.maxAttempts = ${spec.limits.maxAttempts} (${startNote.replace(/^retry: /, "")})`);
          }
          // No trainer runs until the relaunch: a notice from now on is the pre-launch poll's.
          this.stage("before the trainer's relaunch");
          const checkpoint = this.record.checkpoint;
          if (checkpoint === null) resume = null;
          else {
            const prepared = await this.prepareResume(checkpoint);
            if (prepared.fail !== undefined) return this.failOnResume(prepared.fail);
            resume = prepared.resume;
            if (prepared.note) startNote += `; ${prepared.note}`;
          }
          if (spec.sweep !== undefined) {
            // A decision the failed launch left unfinished is taken now: a stop means no relaunch.
            const stop = await this.decidePassedRungs();
            if (stop !== null) return this.stoppedEarly(stop.outcome, stop.reason);
          }
          log.warn("trainer-retry", { attempts: this.record.attempts, maxAttempts: spec.limits.maxAttempts, resume: resume?.path ?? null });
          break;
        }
      }
    }
  }

  private timeoutNote(): string {
    return `max runtime of ${Math.round(this.limits.maxRuntimeMs / 1000)} s reached`;
  }

  private spotDeadline(notice: SpotNotice): number {
    const at = Date.parse(notice.time);
    const fallback = this.now() + SPOT_WARNING_MS;
    return (Number.isFinite(at) && at > this.now() ? Math.min(at, fallback) : fallback) - SPOT_SAFETY_MS;
  }

  /**
   * Puts the record's checkpoint at `<workdir>/phase-<k>/weights/last.pt` (the file already there if
   * it is the one shipped, otherwise a verified download of the recorded version) and the phase's
   * `best.pt` beside it. A checkpoint S3 no longer holds intact (sha256 mismatch, version or key
   * gone) is recorded in `checkpointFailures` and the previous good checkpoint is used instead; with
   * none, the run fails (`fail`) unless the spec allows a fresh start. Other download failures (S3
   * unreachable) fail this agent (`fail`), leaving the record naming the checkpoint for the next.
   */
  private async prepareResume(checkpoint: CheckpointRef): Promise<{ resume: Resume | null; note?: string; fail?: ResumeFailure }> {
    const problems: string[] = [];
    for (let candidate: CheckpointRef | null = checkpoint; candidate !== null; ) {
      const restored = await this.restoreCheckpoint(candidate, "last.pt");
      if (restored === "ok") {
        const note = problems.length > 0 ? `${problems.join("; ")}; resuming from the previous checkpoint ${describeRef(candidate)}` : undefined;
        const best = await this.restoreBest(candidate.phase);
        return { resume: { path: this.deps.layout.lastCheckpointFile(candidate.phase), phase: candidate.phase }, ...(note || best ? { note: [note, best].filter(Boolean).join("; ") } : {}) };
      }
      if (restored === "stopped") return { resume: null };
      if (restored.kind === "unavailable") {
        return { resume: null, fail: { retryable: true, reason: `checkpoint ${describeRef(candidate)} could not be downloaded (${restored.reason}); not starting over: the next launch resumes it` } };
      }
      const reason = `checkpoint ${describeRef(candidate)} is unusable: ${restored.reason}`;
      problems.push(reason);
      const previous = this.record.previousCheckpoint;
      if (previous !== null && previous !== candidate) {
        this.log.warn("checkpoint-fallback", { failed: describeRef(candidate), to: describeRef(previous), reason: restored.reason });
        this.dispatch({ type: "checkpoint-unusable", atMs: this.now(), reason, outcome: "previous-checkpoint" });
        candidate = previous;
        continue;
      }
      if (this.deps.spec.limits.restartIfCheckpointLost) {
        this.dispatch({ type: "checkpoint-unusable", atMs: this.now(), reason, outcome: "fresh-start" });
        return { resume: null, note: `${problems.join("; ")}; starting afresh (limits.restartIfCheckpointLost)` };
      }
      this.dispatch({ type: "checkpoint-unusable", atMs: this.now(), reason, outcome: "failed" });
      return {
        resume: null,
        fail: { retryable: false, reason: `${problems.join("; ")}; no earlier good checkpoint, and starting over would discard every epoch trained (set limits.restartIfCheckpointLost to allow it)` },
      };
    }
    return { resume: null };
  }

  /**
   * Downloads one recorded weights file (by its version when recorded) to where the trainer finds it.
   * `unusable`: S3 answered, and what it holds is not the recorded file; `unavailable`: S3 could not be read.
   */
  private async restoreCheckpoint(ref: CheckpointRef, file: WeightsFile): Promise<"ok" | "stopped" | { kind: "unusable" | "unavailable"; reason: string }> {
    const { layout, transfer } = this.deps;
    const path = file === "best.pt" ? layout.bestCheckpointFile(ref.phase) : layout.lastCheckpointFile(ref.phase);
    const local = await signatureOf(path);
    if (local !== null && this.versions.isShipped(path, local)) return "ok";
    try {
      const started = this.now();
      const stage = this.stage(file === "best.pt" ? "during the best.pt download" : "during the checkpoint download");
      const got = await transfer.downloadFile(ref.key, path, ref.sha256, undefined, stage, ref.versionId ?? undefined);
      this.log.info("checkpoint-downloaded", { file, key: ref.key, versionId: ref.versionId, bytes: got.bytes, matched: got.matched, ms: this.now() - started });
      if (got.matched === "metadata" && file === "last.pt") {
        this.dispatch({ type: "checkpoint-uploaded", atMs: this.now(), checkpoint: { ...ref, sha256: got.sha256, bytes: got.bytes, epoch: null } });
      }
      const signature = await signatureOf(path);
      if (signature !== null) this.versions.markShipped(path, signature);
      return "ok";
    } catch (error) {
      // Cut short by a spot notice, stop signal or lost lease, not a bad object: the record keeps naming it.
      if (this.preLaunchStop.signal.aborted) {
        this.log.info("checkpoint-download-stopped", { file, key: ref.key });
        return "stopped";
      }
      this.log.error("checkpoint-restore-failed", { file, key: ref.key, versionId: ref.versionId, error: describeError(error) });
      return { kind: isUnusableObject(error) ? "unusable" : "unavailable", reason: describeError(error) };
    }
  }

  /** Restores the phase's best.pt, if the record has one; a note when it could not be (the run goes on). */
  private async restoreBest(phase: number): Promise<string | undefined> {
    const best = this.record.bestCheckpoint;
    if (best === null || best.phase !== phase) return undefined;
    const restored = await this.restoreCheckpoint(best, "best.pt");
    if (restored === "ok" || restored === "stopped") return undefined;
    return `best.pt ${describeRef(best)} could not be restored (${restored.reason}): the best of the epochs trained from here is published`;
  }

  /**
   * Starting weights from S3 and the W&B key from SSM, fetched once before the first launch.
   * Returns why the run cannot start, or null.
   */
  private async prepareTrainerInputs(): Promise<string | null> {
    const { spec, layout, log } = this.deps;
    const inputs: Record<string, string> = {};
    const location = parseS3Uri(spec.model);
    if (location !== null) {
      const path = localModelPath(layout.workdir, location.key);
      try {
        if ((await stat(path).catch(() => null)) === null) {
          const started = this.now();
          await this.deps.fetchModel(spec.model, path, this.stage("during the starting weights download"));
          log.info("model-downloaded", { uri: spec.model, path, ms: this.now() - started });
        }
        inputs.YOLO_TRAIN_MODEL = path;
      } catch (error) {
        // Cut short by a spot notice or stop signal: the caller records `interrupted`, not a failure.
        if (this.preLaunchStop.signal.aborted) return "the starting weights download was stopped";
        log.error("model-download-failed", { uri: spec.model, error: describeError(error) });
        return `the starting weights ${spec.model} could not be downloaded: ${describeError(error)}`;
      }
    }
    if (spec.tracking.kind === "wandb") {
      const parameter = spec.tracking.apiKeyParameter;
      try {
        this.stage("while reading the W&B key");
        inputs.WANDB_API_KEY = await this.deps.readSecret(parameter);
        log.info("tracking-key-read", { parameter });
      } catch (error) {
        log.error("tracking-key-failed", { parameter, error: describeError(error) });
        return `the W&B API key could not be read from SSM parameter ${parameter}: ${describeError(error)}`;
      }
    }
    this.trainerInputs = inputs;
    return null;
  }

  /** Brings back the earlier nodes' progress lines so the trainer appends to them. Best effort. */
  private async restoreProgress(): Promise<void> {
    const file = this.deps.layout.progressFile;
    try {
      const local = await stat(file).catch(() => null);
      const remote = await this.deps.store.readProgress();
      if (remote !== null && (local === null || local.size < remote.length)) await writeFile(file, remote);
    } catch (error) {
      this.log.warn("progress-restore-failed", { error: describeError(error) });
    }
  }

  private async runAttempt(resume: Resume | null, tail: ProgressTail, note: string | undefined): Promise<Outcome> {
    const { config, layout, spec, log } = this.deps;
    const env: NodeJS.ProcessEnv = { ...process.env, YOLO_TRAIN_RUN_SPEC: config.runSpecPath, YOLO_TRAIN_WORKDIR: layout.workdir, YOLO_TRAIN_SCRATCH: config.scratch };
    for (const name of ["YOLO_TRAIN_RESUME", "YOLO_TRAIN_RESUME_PHASE", "YOLO_TRAIN_MODEL", "WANDB_API_KEY"]) delete env[name];
    Object.assign(env, this.trainerInputs);
    if (resume !== null) {
      env.YOLO_TRAIN_RESUME = resume.path;
      env.YOLO_TRAIN_RESUME_PHASE = String(resume.phase);
    }
    const launchNote = [note, resume ? `resuming phase ${resume.phase} from ${resume.path}` : "fresh start"].filter(Boolean).join("; ");
    this.dispatch({ type: "trainer-started", atMs: this.now(), note: launchNote });
    this.shipper.startWatching();
    this.bestShipper.startWatching();
    const trainer = this.deps.startTrainer({ command: config.trainerCommand, env, cwd: layout.workdir });
    this.trainer = trainer;
    log.info("trainer-started", { pid: trainer.pid ?? null, attempt: this.record.attempts, maxAttempts: spec.limits.maxAttempts, resume: resume?.path ?? null });

    let settle!: (outcome: Outcome) => void;
    const decided = new Promise<Outcome>((resolve) => {
      let done = false;
      settle = (outcome) => {
        if (done) return;
        done = true;
        resolve(outcome);
      };
    });
    void trainer.exited.then((exit) => settle({ kind: "exited", exit }));
    this.onStopRequest = (signal) => settle({ kind: "signal", signal });
    this.onLeaseLost = () => settle({ kind: "lease-lost" });
    if (this.leaseLostNote !== null) settle({ kind: "lease-lost" });
    if (this.stopRequest !== null) settle({ kind: "signal", signal: this.stopRequest });
    this.rungsOpen = true;

    let epochLinesThisLaunch = 0;
    let idle: IdleState = NOT_IDLE;

    const readProgress = async (): Promise<void> => {
      const { epochs, invalid } = await tail.read();
      for (const reason of invalid) log.warn("progress-line-invalid", { reason });
      const rungs: RungMeasurement[] = [];
      for (const progress of epochs) {
        epochLinesThisLaunch++;
        this.dispatch({ type: "epoch", atMs: this.now(), progress });
        log.info("epoch", { phase: progress.phase, phases: progress.phases, epoch: progress.epoch, epochs: progress.epochs, imagesPerSecond: progress.imagesPerSecond });
        const measured = this.rungMeasurement(progress);
        if (measured !== null) rungs.push(measured);
      }
      if (epochs.length > 0 && this.deps.spec.sweep !== undefined && this.rungsOpen) {
        // Beside training, never in its way: the watcher goes on polling while S3 answers.
        this.rungChain = this.rungChain
          .then(() => this.decideRungs(rungs))
          .then((stop) => {
            if (stop !== null) settle({ kind: "stopped-early", ...stop });
          });
      }
    };

    const onError = (what: string) => (error: unknown) => log.warn(`${what}-failed`, { error: describeError(error) });
    const watcher = new Ticker(
      config.watchMs,
      async () => {
        await readProgress();
        // Once this launch trains, its fetched weights and built label caches are complete.
        if (epochLinesThisLaunch > 0) this.caches.poll(false);
        // Each new version is copied aside and checked now; the upload runs on after the tick.
        await this.shipper.poll(await scanCheckpoints(layout.workdir));
        await this.bestShipper.poll(await scanCheckpoints(layout.workdir, "best.pt"));
        if (this.now() - this.lastPublishMs >= RECORD_TICK_MS) this.dispatch({ type: "tick", atMs: this.now() });
      },
      onError("watch"),
    ).start();
    const spot = new Ticker(
      config.spotPollMs,
      async () => {
        const notice = await this.deps.spotNotice();
        if (notice !== null) {
          log.warn("spot-notice", { action: notice.action, terminationTime: notice.time });
          settle({ kind: "spot", notice });
        }
      },
      onError("spot-poll"),
    ).start(true);
    const gpu = new Ticker(
      config.gpuPollMs,
      async () => {
        // Start-up and data loading leave the GPU idle legitimately: the clock starts with the first epoch line.
        if (epochLinesThisLaunch === 0) return;
        const utilisation = await this.deps.sampleGpu();
        // Kept for `yolo-train status`; written with the next record update, not on its own.
        if (utilisation !== null && this.state !== null) {
          this.state = applyEvent(this.state, { type: "gpu-sampled", atMs: this.now(), utilisation });
        }
        const verdict = observeGpu(idle, { atMs: this.now(), utilisation }, this.limits);
        idle = verdict.state;
        if (verdict.idle) log.info("gpu-idle", { utilisation, idleForMs: verdict.idleForMs });
        if (verdict.hung) {
          log.warn("gpu-hung", { idleForMs: verdict.idleForMs });
          settle({ kind: "hung", idleForMs: verdict.idleForMs });
        }
      },
      onError("gpu-sample"),
    ).start();
    const runtimeTimer = setTimeout(() => settle({ kind: "timed-out" }), Math.max(0, this.deadlineMs - this.now()));

    const outcome = await decided;
    // A trainer that finished still reports its last rungs (other trials are judged against them);
    // after any other outcome, decisions still in flight are dropped (their entries in S3 decide a
    // resume the same way).
    const finished = outcome.kind === "exited" && outcome.exit.code === 0;
    if (!finished) this.rungsOpen = false;
    watcher.stop();
    // What goes up last is decided once the trainer is gone (shipFinal), not by an upload started now.
    this.shipper.stopWatching();
    this.bestShipper.stopWatching();
    spot.stop();
    gpu.stop();
    clearTimeout(runtimeTimer);
    this.onStopRequest = null;
    this.onLeaseLost = null;
    // The last checkpoint and the end record come first: no cache upload competes with them.
    if (outcome.kind !== "exited") this.caches.stop();

    let exit: TrainerExit;
    if (outcome.kind === "exited") exit = outcome.exit;
    else {
      log.warn("trainer-stopping", { reason: outcome.kind, graceMs: config.stopGraceMs });
      exit = await trainer.stop(config.stopGraceMs);
    }
    // Leftover processes of the group (dataloader or DDP workers) must not write on or hold the GPU.
    if (!(await trainer.killGroup())) log.warn("trainer-group-lingers", { pid: trainer.pid ?? null });
    this.dispatch({ type: "trainer-exited", atMs: this.now() });
    log.info("trainer-exited", { code: exit.code, signal: exit.signal, reason: outcome.kind });
    // A launch that trained and failed: nothing writes the cache folders now, so every file counts as stable.
    if (outcome.kind === "exited" && exit.code !== 0 && epochLinesThisLaunch > 0) this.caches.poll(true);
    await readProgress().catch(onError("watch"));
    if (finished && this.rungsOpen) {
      // Never rejects; a stop decided now is moot (the trial has trained to its end) but recorded.
      await this.rungChain;
      this.rungsOpen = false;
    }
    // An upload the watcher started may still run: every path after this ships through the same
    // serial shipper (shipFinal queues behind it), and the model uploads after success need not wait.
    return outcome;
  }

  /** Trainer exited 0: ship the model and finish; null when result.json is unusable (then it is a failure). */
  private async complete(): Promise<ExitCode | null> {
    const { layout, transfer, log, spec } = this.deps;
    let result: TrainerResult;
    try {
      const parsed = parseTrainerResult(await readFile(layout.resultFile, "utf8"), layout.workdir);
      if (!parsed.ok) throw new Error(parsed.problems.join("; "));
      result = parsed.result;
      for (const path of [result.best, result.onnx]) if (!(await stat(path)).isFile()) throw new Error(`${path} is not a file`);
    } catch (error) {
      log.error("result-unusable", { file: layout.resultFile, error: describeError(error) });
      return null;
    }
    log.info("trainer-succeeded", { status: result.status, metrics: result.metrics, onnxExport: result.onnxExport.kind === "reported" ? result.onnxExport.export : result.onnxExport });
    // The model files are the run's: an agent that stalled past its lease must not put them up
    // over those of the agent that took the run over. A renewal tells a takeover from a slow S3.
    if (!this.deps.lease.holds()) {
      const renewed = await this.deps.lease.renew().catch((error: unknown) => {
        log.warn("lease-renew-failed", { error: describeError(error), note: "uploading the model anyway: S3 decides" });
        return true;
      });
      if (!renewed) this.leaseLost(this.deps.lease.lostReason ?? "another agent took the run over");
      if (this.leaseLostNote !== null) return this.takenOver();
    }
    this.dispatch({ type: "uploading", atMs: this.now() });
    const keys = layout.modelKeys;
    const limit = concurrencyLimit(FINAL_UPLOADS_AT_ONCE);
    // Everything that must be durable goes up at once, so teardown waits for the slowest upload, not
    // for their sum. The final last.pt (unless S3 holds its bytes already) makes the record name the
    // last epoch, and a relaunch after a failed model upload resumes to "already complete" instead of
    // training an epoch again. Never rejects; the release need not wait for it, the record does.
    const finalCheckpoint = limit(async () => {
      await this.markFinalCheckpointIfDurable();
      return this.shipper.shipFinal();
    }).catch((error: unknown) => {
      log.error("checkpoint-upload-failed", { final: true, error: describeError(error) });
      return false;
    });
    let digests: CompletedModel["digests"];
    try {
      // progress.jsonl goes up with the "uploading" record, beside these (RecordPublisher).
      const [resultDigest, onnx, best] = await Promise.all([
        limit(() => transfer.uploadFile({ path: layout.resultFile, key: keys.result, contentType: "application/json" })),
        limit(() => transfer.uploadFile({ path: result.onnx, key: keys.onnx })),
        limit(() => transfer.uploadFile({ path: result.best, key: keys.best })),
      ]);
      digests = { best, onnx, result: resultDigest };
    } catch (error) {
      await finalCheckpoint;
      // The relaunch evaluates and exports again from what is durable: best.pt must be among it.
      await this.bestShipper.shipFinal();
      return this.finish("failed", `training finished but the model upload failed: ${describeError(error)}`);
    }
    const artifacts: ModelArtifacts = { best: keys.best, onnx: keys.onnx, result: keys.result };
    let note: string | undefined;
    const verdict = exportVerdict(result.onnxExport);
    if (spec.sweep !== undefined && verdict.release) {
      // One model among the sweep's: the sweep keeper releases the winner once the sweep has ended
      // (keeper/sweepKeeper.ts), so no trial's model reaches the edge boxes on its own.
      note = SWEEP_TRIAL_RELEASE_NOTE;
      log.info("release-left-to-sweep", { sweepId: spec.sweep.sweepId, trialId: spec.sweep.trialId, artifacts });
    } else if ((this.deps.publishModel || spec.sweep !== undefined) && !verdict.release) {
      // Not a failure of the run: the model is safe in the artifact bucket, but boxes get only a
      // model whose ONNX export was shown to behave like the PyTorch weights it came from.
      log.warn("release-blocked", { reason: verdict.reason, artifacts });
      this.dispatch({ type: "release-blocked", atMs: this.now(), reason: verdict.reason });
    } else if (this.deps.publishModel && !this.deps.lease.holds()) {
      // Taken over while the model went up: the run's writer decides what is released.
      log.warn("release-skipped", { reason: this.leaseLostNote ?? "the lease is not held" });
    } else if (this.deps.publishModel) {
      try {
        const release = await this.deps.publishModel({ spec, result, artifacts, digests });
        if (release) this.dispatch({ type: "release-published", atMs: this.now(), release });
      } catch (error) {
        note = `OTA publishing failed: ${describeError(error)}`;
        log.error("publish-failed", { error: describeError(error) });
      }
    }
    // "completed" names the final checkpoint: S3 must hold it first.
    await finalCheckpoint;
    return this.finish("completed", note, { metrics: result.metrics, artifacts });
  }

  /**
   * After a successful exit: when the newest last.pt holds exactly the bytes of the checkpoint the
   * record names (a trainer that saved its final weights again unchanged), it is durable already;
   * it is marked shipped, so shipFinal does not send it again. The record names only an object
   * complete in S3, so comparing size and SHA-256 with it compares with S3. Cheap tests come first,
   * so a file that must go up anyway is not read an extra time. Best effort: on any doubt, shipFinal
   * decides as it always does.
   */
  private async markFinalCheckpointIfDurable(): Promise<void> {
    const { layout, transfer, log } = this.deps;
    try {
      // A checkpoint upload still running changes what the record names: compare after it (shipFinal
      // waits for it too). None starts after it before shipFinal: the watcher has stopped.
      await this.publisher.unheld();
      const durable = this.record.checkpoint;
      if (durable === null) return;
      const newest = (await scanCheckpoints(layout.workdir)).at(-1);
      if (newest === undefined || newest.path !== layout.lastCheckpointFile(durable.phase)) return;
      if (this.versions.isShipped(newest.path, newest.signature) || newest.signature.size !== durable.bytes) return;
      // The newest progress line is of a later epoch than the durable checkpoint: ultralytics saved
      // that epoch's last.pt before writing the line, so the file on disk holds a later epoch.
      if (durable.epoch !== null && this.record.trainingPhase === durable.phase && this.record.epoch > durable.epoch) return;
      const started = this.now();
      const local = await transfer.digestFile(newest.path);
      if (local.sha256 !== durable.sha256 || local.bytes !== durable.bytes) return;
      // Rewritten while it was read: shipFinal looks at the newer version.
      if (!sameSignature(await signatureOf(newest.path), newest.signature)) return;
      this.versions.markShipped(newest.path, newest.signature);
      log.info("checkpoint-already-durable", { key: durable.key, phase: durable.phase, epoch: durable.epoch, bytes: durable.bytes, ms: this.now() - started });
    } catch (error) {
      log.warn("checkpoint-compare-failed", { error: describeError(error), note: "the final last.pt is shipped as usual" });
    }
  }

  private async writeFinal(phase: EndPhase, note: string | undefined, extra: { metrics?: Record<string, number>; artifacts?: ModelArtifacts; stoppedAt?: SweepStop } = {}): Promise<boolean> {
    this.caches.stop();
    this.dispatch({ type: "ended", atMs: this.now(), phase, ...(note !== undefined ? { note } : {}), ...extra });
    this.log.info("run-ended", { phase, note: note ?? null, attempts: this.record.attempts, billedSeconds: this.record.billedSeconds, estimatedCostUsd: this.record.estimatedCostUsd });
    try {
      await this.publisher.flush();
      return true;
    } catch (error) {
      this.log.error("final-record-failed", { phase, error: describeError(error) });
      return false;
    } finally {
      // The end state is in S3 (or could not be written): the next agent need not wait for the lease to expire.
      this.leaseRenewal?.stop();
      if (this.leaseLostNote === null) await this.deps.lease.release();
    }
  }

  /**
   * The run was taken over: this agent writes nothing more (no record, no teardown: the node is the
   * group's to replace or remove) and exits 75.
   */
  private takenOver(): ExitCode {
    this.log.warn("exiting-without-writing", { reason: this.leaseLostNote });
    return EXIT.interrupted;
  }

  /** Records an end state and tears down. */
  private async finish(phase: Exclude<EndPhase, "interrupted">, note: string | undefined, extra: { metrics?: Record<string, number>; artifacts?: ModelArtifacts; stoppedAt?: SweepStop } = {}): Promise<ExitCode> {
    if (this.leaseLostNote !== null) return this.takenOver();
    const written = await this.writeFinal(phase, note, extra);
    if (this.leaseLostNote !== null) return this.takenOver();
    const code = await this.teardown();
    return written ? code : EXIT.internalError;
  }

  /**
   * ASHA stopped this sweep trial at a rung: records the final `stopped-early` (no OTA release: the
   * model is not the sweep's) and tears down like a completed run.
   */
  private async stoppedEarly(outcome: RungOutcome, reason: string): Promise<ExitCode> {
    const stoppedAt: SweepStop = { rung: outcome.rung, epoch: outcome.epoch, value: outcome.value, cutoff: outcome.cutoff, earlier: outcome.earlier };
    const cmp = outcome.cutoff === null ? "" : outcome.value < outcome.cutoff ? " < " : " > ";
    const value = Math.abs(outcome.value) === Number.MAX_VALUE ? "missing (judged worst)" : String(outcome.value);
    const note = `stopped early by the sweep at rung ${outcome.rung} (epoch ${outcome.epoch}): value ${value}${outcome.cutoff === null ? "" : `${cmp}cutoff ${outcome.cutoff}`} (${reason})`;
    return this.finish("stopped-early", note, { stoppedAt });
  }

  /** The rung a progress line measures, if it is one of the sweep's rung epochs (one phase: a sweep trial has no progressive phases). */
  private rungMeasurement(progress: EpochProgress): RungMeasurement | null {
    const sweep = this.deps.spec.sweep;
    if (sweep === undefined || progress.phase !== 0) return null;
    const rung = rungAt(sweep, progress.epoch);
    if (rung < 0 || this.rungsPromoted.has(rung)) return null;
    const value = progress.metrics[sweep.metric];
    if (value === undefined || !Number.isFinite(value)) {
      this.log.warn("rung-metric-missing", { rung, epoch: progress.epoch, metric: sweep.metric, note: "judged as the worst value: it continues only when first at the rung" });
    }
    return { rung, epoch: progress.epoch, value: value !== undefined && Number.isFinite(value) ? value : undefined };
  }

  /**
   * Before a launch: decides every rung the progress file has a line for and this agent has not
   * seen promoted (after a decision still in flight from an earlier launch has ended). A rung
   * recorded before gets the same decision from the stored entries; a new one is recorded now.
   */
  private async decidePassedRungs(): Promise<{ outcome: RungOutcome; reason: string } | null> {
    await this.rungChain;
    this.rungsOpen = true;
    return this.decideRungs(await this.rungsInProgressFile());
  }

  /** The rungs the restored progress.jsonl has lines for (the later line of an epoch wins). */
  private async rungsInProgressFile(): Promise<RungMeasurement[]> {
    const text = await readFile(this.deps.layout.progressFile, "utf8").catch(() => "");
    const byRung = new Map<number, RungMeasurement>();
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const parsed = parseProgressLine(line);
      if (parsed.kind !== "epoch") continue;
      const measured = this.rungMeasurement(parsed.progress);
      if (measured !== null) byRung.set(measured.rung, measured);
    }
    return [...byRung.values()].sort((a, b) => a.rung - b.rung);
  }

  /**
   * Decides `measured` rungs (and those whose decision failed before), one after the other; returns
   * the first stop, or null. Rung I/O failures never stop training: the measurement is kept and tried
   * again at each later epoch line (an S3 outage is usually short, and a trial judged late with the
   * value it measured at the rung is judged as it would have been on time); while S3 stays down the
   * trial simply trains on, as a trial that is first at every rung would. Never rejects.
   */
  private async decideRungs(measured: readonly RungMeasurement[]): Promise<{ outcome: RungOutcome; reason: string } | null> {
    const sweep = this.deps.spec.sweep;
    const access = this.deps.rungs;
    if (sweep === undefined || access === undefined) return null;
    const todo = new Map<number, RungMeasurement>(this.rungsPending);
    for (const m of measured) if (!todo.has(m.rung)) todo.set(m.rung, m);
    for (const m of [...todo.values()].sort((a, b) => a.rung - b.rung)) {
      if (!this.rungsOpen || this.rungsPromoted.has(m.rung)) continue;
      try {
        const verdict = await decideRung(access, sweep, m, new Date(this.now()).toISOString());
        this.rungsPending.delete(m.rung);
        // The attempt ended meanwhile: nothing more is recorded for it (its entry decides a resume the same way).
        if (!this.rungsOpen) return null;
        const { outcome } = verdict;
        this.log.info("rung-decision", { sweepId: sweep.sweepId, trialId: sweep.trialId, metric: sweep.metric, direction: sweep.direction, ...outcome, missingMetric: verdict.missingMetric, reason: verdict.reason });
        this.dispatch({ type: "rung-decided", atMs: this.now(), outcome });
        if (!outcome.promote) return { outcome, reason: verdict.reason };
        this.rungsPromoted.add(m.rung);
      } catch (error) {
        this.rungsPending.set(m.rung, m);
        this.log.warn("rung-io-failed", { sweepId: sweep.sweepId, rung: m.rung, epoch: m.epoch, error: describeError(error), note: "training goes on; tried again at the next epoch" });
      }
    }
    return null;
  }

  /** Records "interrupted" and leaves the node to the group (no teardown). */
  private async interrupted(note: string): Promise<ExitCode> {
    if (this.leaseLostNote !== null) return this.takenOver();
    await this.writeFinal("interrupted", note);
    return EXIT.interrupted;
  }

  /**
   * The checkpoint to resume could not be restored: records `failed` with why. When S3 could not be
   * read at all, exits 70 without teardown, so the host relaunches the agent and it tries again;
   * when no good checkpoint is left, tears down like any failure.
   */
  private async failOnResume(failure: ResumeFailure): Promise<ExitCode> {
    if (!failure.retryable) return this.finish("failed", failure.reason);
    if (this.leaseLostNote !== null) return this.takenOver();
    await this.writeFinal("failed", failure.reason);
    return EXIT.internalError;
  }

  /** After the trainer stopped: the newest last.pt, then best.pt (the checkpoint to resume matters most). */
  private async shipFinals(deadlineMs?: number): Promise<void> {
    await this.shipper.shipFinal(deadlineMs);
    await this.bestShipper.shipFinal(deadlineMs);
  }

  private async teardown(): Promise<ExitCode> {
    try {
      await this.deps.teardown();
      return EXIT.done;
    } catch (error) {
      this.log.error("teardown-failed", { error: describeError(error) });
      return EXIT.internalError;
    }
  }
}
