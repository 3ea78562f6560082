import { createHash } from "crypto";
import type { S3Fake } from "./s3Fake";
import type { S3FaultProxy } from "./s3FaultProxy";
import { checkpointHeader } from "./standInCheckpoint";
import { zipProblem } from "./zipArchive";

/** The run record (`runs/<runId>/run.json`) as docs/node-runtime.md defines it. */
export interface RunRecord {
  readonly runId: string;
  readonly phase: "starting" | "training" | "uploading" | "completed" | "stopped-early" | "interrupted" | "hung" | "timed-out" | "failed";
  readonly epoch?: number | null;
  readonly epochs?: number | null;
  readonly trainingPhase?: number | null;
  readonly trainingPhases?: number | null;
  readonly metrics?: Record<string, number> | null;
  readonly imagesPerSecond?: number | null;
  readonly gpuUtilisation?: number[] | null;
  readonly attempts: number;
  readonly interruptions: number;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly checkpoint?: { key: string; sha256: string; bytes: number; phase: number; epoch: number; versionId?: string | null } | null;
  readonly billedSeconds?: number | null;
  readonly trainingSeconds?: number | null;
  readonly estimatedCostUsd?: number | null;
  readonly artifacts?: { best?: string; onnx?: string; result?: string } | null;
  readonly release?: { modelName: string; version: number; bucket: string; manifestKey: string; channels: string[]; promotion: { promoted: boolean; reason: string } } | null;
  readonly releaseBlocked?: { reason: string } | null;
  readonly error?: string | null;
  readonly history?: ReadonlyArray<{ phase: string; at?: string; time?: string }> | null;
  /** A sweep trial's rung decisions (issue 12). */
  readonly sweep?: {
    rungs: Array<{ rung: number; epoch: number; value: number; promote: boolean; cutoff: number | null; earlier: number }>;
    stoppedAt: { rung: number; epoch: number; value: number; cutoff: number | null; earlier: number } | null;
  } | null;
}

/**
 * What the trainer's `last.pt` files are: the stand-in's (a header line naming phase and epoch) or
 * real ultralytics checkpoints (zip archives written by `torch.save`, whose epoch only Python can read).
 */
export type CheckpointFormat = "stand-in" | "ultralytics";

/** A version of the run record as the agent sent it, and when. */
export interface RecordedRunRecord {
  readonly at: number;
  readonly record: RunRecord;
}

/**
 * Watches every run record the agent writes, at the moment it writes it (the proxy holds the
 * PUT until the check is done), and checks that every object it names is already complete in
 * S3: the checkpoint with the recorded size, sha256, phase and epoch; the model artifacts.
 * A record naming a missing or partial object is a violation, whatever happens later.
 *
 * One case is not: checkpoints of a phase share one key, so between a newer checkpoint's upload
 * completing and the record naming it, the record names a key that holds a newer, whole
 * checkpoint. docs/node-runtime.md allows it (a resume then verifies the object against its own
 * `sha256` metadata); the auditor lists it under {@link RunRecordAuditor.superseded}.
 */
export class RunRecordAuditor {
  readonly versions: RecordedRunRecord[] = [];
  /** Records naming an object that is missing, or differs from what the record says (size, sha256). */
  readonly violations: string[] = [];
  /**
   * Records whose checkpoint `epoch` is not the epoch the object holds. The agent learns the epoch
   * from progress.jsonl, which the trainer appends just after rewriting last.pt, so a checkpoint
   * taken in between is labelled one epoch early: worth knowing, but not a missing object.
   */
  readonly mislabels: string[] = [];
  /** Records naming a checkpoint key that already holds a newer whole checkpoint of the phase (allowed). */
  readonly superseded: string[] = [];

  /**
   * With `checkObjects` false it only records the versions: checking holds every record write
   * while it downloads and hashes what the record names, which a benchmark must not time.
   * With `format` `ultralytics` a checkpoint must be a whole zip archive; its phase and epoch are
   * not read (see {@link CheckpointFormat}).
   */
  constructor(
    private readonly proxy: S3FaultProxy,
    private readonly s3: S3Fake,
    private readonly bucket: string,
    prefix: string,
    private readonly checkObjects = true,
    private readonly format: CheckpointFormat = "stand-in",
  ) {
    proxy.inspect(
      (r) => r.method === "PUT" && r.bucket === bucket && r.key === `${prefix}run.json` && !/(^|&)(uploadId|partNumber)=/.test(r.query),
      async (request, body) => this.audit(request.startedAt, body),
    );
  }

  /** The phases the record went through, consecutive repeats collapsed. */
  get phases(): string[] {
    const out: string[] = [];
    for (const { record } of this.versions) if (out[out.length - 1] !== record.phase) out.push(record.phase);
    return out;
  }

  private checkCheckpoint(where: string, checkpoint: NonNullable<RunRecord["checkpoint"]>, bytes: Buffer, metadata: Record<string, string>): void {
    if (this.format === "ultralytics") {
      this.checkZipCheckpoint(where, checkpoint, bytes, metadata);
      return;
    }
    const hash = createHash("sha256").update(bytes).digest();
    let header: ReturnType<typeof checkpointHeader> | undefined;
    try {
      header = checkpointHeader(bytes);
    } catch (error) {
      this.violations.push(`${where}: checkpoint ${checkpoint.key} (sha256 ${checkpoint.sha256}) is not a whole stand-in checkpoint: ${(error as Error).message}`);
    }
    const sameBytes = checkpoint.sha256 === hash.toString("hex") || checkpoint.sha256 === hash.toString("base64");
    if (!sameBytes) {
      const wholeNewer =
        metadata.sha256 === hash.toString("hex") && header?.phase === checkpoint.phase && (checkpoint.epoch === null || header.epoch > checkpoint.epoch);
      if (wholeNewer && header) {
        this.superseded.push(`${where} names ${checkpoint.key} at epoch ${String(checkpoint.epoch)}; S3 already holds epoch ${header.epoch}`);
        return;
      }
      this.violations.push(`${where} names checkpoint ${checkpoint.key} with sha256 ${checkpoint.sha256}, but S3 holds ${hash.toString("hex")}`);
    }
    if (checkpoint.bytes !== bytes.length) {
      this.violations.push(`${where} names checkpoint ${checkpoint.key} of ${checkpoint.bytes} bytes, but S3 holds ${bytes.length}`);
    }
    if (header === undefined) return;
    if (header.phase !== checkpoint.phase) {
      this.violations.push(`${where} says phase ${checkpoint.phase}, but the object is phase ${header.phase}`);
    } else if (sameBytes && header.epoch !== checkpoint.epoch) {
      this.mislabels.push(`${where} says phase ${checkpoint.phase} epoch ${checkpoint.epoch}, but the object is phase ${header.phase} epoch ${header.epoch}`);
    }
  }

  /**
   * A real checkpoint: whole (a complete zip archive) and the bytes the record names. A key that
   * already holds a newer whole checkpoint is allowed as for the stand-in's, but "newer" cannot be
   * read from a zip here: a whole archive carrying its own matching `sha256` metadata is taken as it.
   */
  private checkZipCheckpoint(where: string, checkpoint: NonNullable<RunRecord["checkpoint"]>, bytes: Buffer, metadata: Record<string, string>): void {
    const problem = zipProblem(bytes);
    if (problem !== undefined) this.violations.push(`${where}: checkpoint ${checkpoint.key} is not a whole zip archive: ${problem}`);
    const hash = createHash("sha256").update(bytes).digest("hex");
    if (checkpoint.sha256 !== hash) {
      if (problem === undefined && metadata.sha256 === hash) {
        this.superseded.push(`${where} names ${checkpoint.key} at epoch ${String(checkpoint.epoch)}; S3 already holds a newer whole checkpoint (sha256 ${hash})`);
        return;
      }
      this.violations.push(`${where} names checkpoint ${checkpoint.key} with sha256 ${checkpoint.sha256}, but S3 holds ${hash}`);
    }
    if (checkpoint.bytes !== bytes.length) this.violations.push(`${where} names checkpoint ${checkpoint.key} of ${checkpoint.bytes} bytes, but S3 holds ${bytes.length}`);
  }

  private async audit(at: number, body: Buffer): Promise<void> {
    let record: RunRecord;
    try {
      record = JSON.parse(body.toString("utf8")) as RunRecord;
    } catch {
      this.violations.push(`run record at ${at} is not JSON: ${body.subarray(0, 80).toString("utf8")}`);
      return;
    }
    this.versions.push({ at, record });
    if (!this.checkObjects) return;
    const where = `run record #${this.versions.length} (${record.phase})`;
    const checkpoint = record.checkpoint;
    if (checkpoint) {
      // A record naming a version is about that version, whatever the key holds now.
      const version = checkpoint.versionId ? this.proxy.versionLocation(this.bucket, checkpoint.key, checkpoint.versionId) : undefined;
      if (checkpoint.versionId && version === undefined) this.violations.push(`${where} names version ${checkpoint.versionId} of ${checkpoint.key}, which S3 never made`);
      const object = await this.s3.getObjectWithMetadata(version?.bucket ?? this.bucket, version?.key ?? checkpoint.key);
      if (object === undefined) {
        this.violations.push(`${where} names checkpoint ${checkpoint.key}, which is not in S3`);
      } else {
        this.checkCheckpoint(where, checkpoint, object.bytes, object.metadata);
      }
    }
    for (const [name, key] of Object.entries(record.artifacts ?? {})) {
      if (typeof key !== "string") continue;
      if ((await this.s3.getObject(this.bucket, key)) === undefined) this.violations.push(`${where} names artifact ${name} ${key}, which is not in S3`);
    }
  }
}
