import { createHash } from "crypto";
import { z } from "zod";
import { canonicalJson } from "../runId";
import { RUN_ID_PATTERN } from "../schema";

/*
 * The objects a deployed sweep keeps under `sweeps/<sweepId>/` in its artifact bucket (issue 12),
 * besides the rung records (rungRecord.ts). Written and read by different programs, so their shape
 * is a contract, checked on every read:
 *
 * - `sweep.json`, the manifest: what `pulumi up` deployed (the trials, their groups and backstop
 *   schedules, prices and caps, the metric, `maxParallel`, the budget, where the winner is
 *   released). Written by the `Sweep` component; read by the keeper and the CLI.
 * - `starts/<trialId>.json`, a start: written once per trial with `If-None-Match: *` by whichever
 *   keeper gives the trial capacity, so two keepers never start a trial twice.
 * - `state.json`, the keeper's last round: what it started, what waits and why, the money. Read by
 *   `yolo-train sweep status`.
 * - `winner.json`: the best completed trial and its release, written once with `If-None-Match: *`
 *   when the sweep has ended.
 *
 * Pure: no I/O. A change an older reader could not read must bump the schema version.
 */

export const SWEEP_MANIFEST_SCHEMA_VERSION = 1;
export const SWEEP_START_SCHEMA_VERSION = 1;
export const SWEEP_STATE_SCHEMA_VERSION = 1;
export const SWEEP_WINNER_SCHEMA_VERSION = 1;

/** A trial's parameter value, as the trial's config holds it. */
export type SweepParamValue = string | number | boolean;

/** One trial as deployed. */
export interface SweepManifestTrial {
  /** `t01` …, in the sweep's order (the order pending trials start in). */
  readonly trialId: string;
  /** Its run: record, checkpoints and model under `runs/<runId>/` of the same bucket. */
  readonly runId: string;
  readonly params: Readonly<Record<string, SweepParamValue>>;
  /** The Auto Scaling group that trains it (max size 1, desired 0 until the keeper starts it). */
  readonly groupName: string;
  /** The EventBridge Scheduler schedule of its max-runtime backstop (default group), re-anchored when it starts. */
  readonly backstopScheduleName: string;
  /** The hourly price its plan chose (spot or on-demand), for spent and committed money. */
  readonly usdPerHour: number;
  readonly maxRuntimeHours: number;
  /** The plan's estimate of its cost to its end; null when the dataset size was unknown. */
  readonly estimatedUsd: number | null;
  /** Its stack config (`yolo-train:` keys without the prefix, values as a stack file holds them): what `sweep leaderboard` prints for the winner. */
  readonly stackConfig: Readonly<Record<string, unknown>>;
}

/** Where and how the winner is released: the run spec's `ota` section of every trial. */
export interface SweepManifestOta {
  readonly bucket: string;
  /** `<modelsPrefix><modelName>/`. */
  readonly prefix: string;
  readonly modelName: string;
  readonly channel: "candidate" | "stable";
  readonly signingKeyId: string;
  readonly promote?: { readonly metric: string; readonly min: number; readonly requireImprovement: boolean } | undefined;
}

export interface SweepManifest {
  readonly schemaVersion: typeof SWEEP_MANIFEST_SCHEMA_VERSION;
  readonly sweepId: string;
  /** The artifact bucket the manifest, the rung records and every trial's run live in. */
  readonly artifactBucket: string;
  readonly metric: string;
  readonly direction: "maximize" | "minimize";
  readonly maxParallel: number;
  /** The sweep's budget in US dollars; null without one. */
  readonly budgetUsd: number | null;
  /** ASHA as deployed; null when every trial runs to its end. */
  readonly asha: { readonly minEpochs: number; readonly reductionFactor: number; readonly maxEpochs: number; readonly rungs: readonly number[] } | null;
  readonly ota: SweepManifestOta;
  readonly trials: readonly SweepManifestTrial[];
}

/** A trial given capacity: `starts/<trialId>.json`. */
export interface SweepTrialStart {
  readonly schemaVersion: typeof SWEEP_START_SCHEMA_VERSION;
  readonly sweepId: string;
  readonly trialId: string;
  readonly runId: string;
  /** When the start was claimed, ISO 8601 UTC; the backstop is re-anchored from it. */
  readonly startedAt: string;
  /** Who started it: `keeper` (the scheduled function) or another decider's name. */
  readonly by: string;
  /** The backstop's new time, ISO 8601 UTC (`startedAt` + the trial's max runtime). */
  readonly backstopAt: string;
}

/** The keeper's last round: `state.json`. */
export interface SweepState {
  readonly schemaVersion: typeof SWEEP_STATE_SCHEMA_VERSION;
  readonly sweepId: string;
  readonly at: string;
  /** Trials started in this round. */
  readonly started: readonly string[];
  readonly waiting: readonly { readonly trialId: string; readonly reason: "max-parallel" | "budget" }[];
  readonly spentUsd: number;
  readonly committedUsd: number;
  readonly budgetLeftUsd: number | null;
  /** No trial runs or can start: the sweep has ended. */
  readonly done: boolean;
  /** `scheduleTrials`' line: why nothing (more) starts, or what started. */
  readonly summary: string;
}

/** The sweep's winner and its release: `winner.json`. */
export interface SweepWinner {
  readonly schemaVersion: typeof SWEEP_WINNER_SCHEMA_VERSION;
  readonly sweepId: string;
  readonly trialId: string;
  readonly runId: string;
  readonly metric: string;
  readonly value: number;
  readonly decidedAt: string;
  /** The OTA release (version, manifest key, channels); null when it could not be released, with why. */
  readonly release: { readonly modelName: string; readonly version: number; readonly manifestKey: string; readonly channels: readonly string[] } | null;
  readonly releaseNote: string | null;
}

const runId = z.string({ error: "must be a string" }).regex(RUN_ID_PATTERN, { error: "must be 1-48 characters of a-z, 0-9 and '-', starting and ending with a letter or digit" });
const nonEmpty = z.string({ error: "must be a string" }).min(1, { error: "must not be empty" });
const isoTime = z.iso.datetime({ error: 'must be an ISO 8601 UTC time, e.g. "2026-12-05T12:00:00.000Z"' });
const money = z.number({ error: "must be a finite number" }).min(0, { error: "must be 0 or more" });
const paramValue = z.union([z.string(), z.number(), z.boolean()], { error: "must be a string, number or boolean" });

const manifestSchema = z
  .object({
    schemaVersion: z.literal(SWEEP_MANIFEST_SCHEMA_VERSION, { error: `must be ${SWEEP_MANIFEST_SCHEMA_VERSION}` }),
    sweepId: runId,
    artifactBucket: nonEmpty,
    metric: nonEmpty,
    direction: z.enum(["maximize", "minimize"], { error: 'must be "maximize" or "minimize"' }),
    maxParallel: z.int({ error: "must be a whole number" }).min(1, { error: "must be at least 1" }),
    budgetUsd: z.number({ error: "must be a number or null" }).gt(0, { error: "must be more than 0" }).nullable(),
    asha: z
      .object({
        minEpochs: z.int().min(1),
        reductionFactor: z.int().min(2),
        maxEpochs: z.int().min(1),
        rungs: z.array(z.int().min(1)).readonly(),
      })
      .nullable(),
    ota: z.object({
      bucket: nonEmpty,
      prefix: nonEmpty,
      modelName: nonEmpty,
      channel: z.enum(["candidate", "stable"], { error: 'must be "candidate" or "stable"' }),
      signingKeyId: nonEmpty,
      promote: z.object({ metric: nonEmpty, min: z.number(), requireImprovement: z.boolean() }).optional(),
    }),
    trials: z
      .array(
        z.object({
          trialId: runId,
          runId,
          params: z.record(z.string(), paramValue).readonly(),
          groupName: nonEmpty,
          backstopScheduleName: nonEmpty,
          usdPerHour: money,
          maxRuntimeHours: z.number().gt(0, { error: "must be more than 0" }),
          estimatedUsd: money.nullable(),
          stackConfig: z.record(z.string(), z.unknown()).readonly(),
        }),
        { error: "must be an array of trials" },
      )
      .min(1, { error: "must list at least one trial" })
      .readonly(),
  })
  .check((ctx) => {
    // A trial or a group named twice would be started twice or counted twice.
    for (const field of ["trialId", "runId", "groupName"] as const) {
      const seen = new Set<string>();
      ctx.value.trials.forEach((trial, i) => {
        if (seen.has(trial[field])) ctx.issues.push({ code: "custom", path: ["trials", i, field], message: `${trial[field]} is named by an earlier trial`, input: trial[field] });
        seen.add(trial[field]);
      });
    }
  });

const startSchema = z.object({
  schemaVersion: z.literal(SWEEP_START_SCHEMA_VERSION, { error: `must be ${SWEEP_START_SCHEMA_VERSION}` }),
  sweepId: runId,
  trialId: runId,
  runId,
  startedAt: isoTime,
  by: nonEmpty,
  backstopAt: isoTime,
});

const stateSchema = z.object({
  schemaVersion: z.literal(SWEEP_STATE_SCHEMA_VERSION, { error: `must be ${SWEEP_STATE_SCHEMA_VERSION}` }),
  sweepId: runId,
  at: isoTime,
  started: z.array(runId).readonly(),
  waiting: z.array(z.object({ trialId: runId, reason: z.enum(["max-parallel", "budget"]) })).readonly(),
  spentUsd: money,
  committedUsd: money,
  budgetLeftUsd: z.number().nullable(),
  done: z.boolean(),
  summary: z.string(),
});

const winnerSchema = z.object({
  schemaVersion: z.literal(SWEEP_WINNER_SCHEMA_VERSION, { error: `must be ${SWEEP_WINNER_SCHEMA_VERSION}` }),
  sweepId: runId,
  trialId: runId,
  runId,
  metric: nonEmpty,
  value: z.number({ error: "must be a finite number" }),
  decidedAt: isoTime,
  release: z.object({ modelName: nonEmpty, version: z.int().min(1), manifestKey: nonEmpty, channels: z.array(z.string()).readonly() }).nullable(),
  releaseNote: z.string().nullable(),
});

type Assignable<A, B> = [A] extends [B] ? true : false;
/** Compiles only while each written-out type and its schema agree, both ways. */
const typesMatchSchemas: [
  Assignable<z.output<typeof manifestSchema>, SweepManifest>,
  Assignable<SweepManifest, z.output<typeof manifestSchema>>,
  Assignable<z.output<typeof startSchema>, SweepTrialStart>,
  Assignable<SweepTrialStart, z.output<typeof startSchema>>,
  Assignable<z.output<typeof stateSchema>, SweepState>,
  Assignable<SweepState, z.output<typeof stateSchema>>,
  Assignable<z.output<typeof winnerSchema>, SweepWinner>,
  Assignable<SweepWinner, z.output<typeof winnerSchema>>,
] = [true, true, true, true, true, true, true, true];
void typesMatchSchemas;

/** Thrown by the parsers below; `problems` has every problem as `path: what`. */
export class InvalidSweepObjectError extends Error {
  override readonly name = "InvalidSweepObjectError";

  constructor(
    readonly what: string,
    readonly problems: readonly string[],
  ) {
    super(`not a valid ${what}: ${problems.join("; ")}`);
  }
}

const formatPath = (path: readonly PropertyKey[], what: string): string =>
  path.reduce<string>((out, segment) => (typeof segment === "number" ? `${out}[${segment}]` : out === "" ? String(segment) : `${out}.${String(segment)}`), "") || `(${what})`;

function parseWith<T>(schema: z.ZodType<T>, what: string, json: unknown, sweepId: string | undefined): T {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (error) {
      throw new InvalidSweepObjectError(what, [`(${what}): is not valid JSON: ${(error as Error).message}`]);
    }
  }
  const problems: string[] = [];
  const result = schema.safeParse(value);
  if (!result.success) problems.push(...result.error.issues.map((issue) => `${formatPath(issue.path, what)}: ${issue.message}`));
  const raw = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  if (sweepId !== undefined && raw.sweepId !== undefined && raw.sweepId !== sweepId) problems.push(`sweepId: is ${JSON.stringify(raw.sweepId)}, expected ${JSON.stringify(sweepId)}`);
  if (problems.length > 0 || !result.success) throw new InvalidSweepObjectError(what, problems);
  return result.data;
}

/** Checks a sweep manifest (the JSON text or value); `sweepId`, when given, must be the one it names. */
export function parseSweepManifest(json: unknown, sweepId?: string): SweepManifest {
  return parseWith(manifestSchema as z.ZodType<SweepManifest>, "sweep manifest", json, sweepId);
}

export function parseSweepTrialStart(json: unknown, sweepId?: string): SweepTrialStart {
  return parseWith(startSchema as z.ZodType<SweepTrialStart>, "sweep trial start", json, sweepId);
}

export function parseSweepState(json: unknown, sweepId?: string): SweepState {
  return parseWith(stateSchema as z.ZodType<SweepState>, "sweep state", json, sweepId);
}

export function parseSweepWinner(json: unknown, sweepId?: string): SweepWinner {
  return parseWith(winnerSchema as z.ZodType<SweepWinner>, "sweep winner", json, sweepId);
}

/** What names a sweep: its trials' runs and how they are judged. Equal inputs give the same id. */
export interface SweepIdentity {
  readonly runIds: readonly string[];
  readonly metric: string;
  readonly direction: "maximize" | "minimize";
  readonly rungs: readonly number[] | null;
  readonly reductionFactor: number | null;
}

/**
 * The sweep id: `sweep-` and 12 hex characters of the SHA-256 of its identity. A second `pulumi up`
 * of the same sweep keeps it (and its rung records); a changed space, metric or ASHA is a new sweep.
 */
export function deriveSweepId(identity: SweepIdentity): string {
  const hash = createHash("sha256").update(canonicalJson(identity)).digest("hex").slice(0, 12);
  return `sweep-${hash}`;
}
