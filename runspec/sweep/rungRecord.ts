import { z } from "zod";
import type { RungEntry } from "./asha";
import { RUN_ID_PATTERN } from "../schema";

/**
 * The rung record (`sweeps/<sweepId>/rungs/<rung>.json` in the artifact bucket, see
 * `rungRecordKey`): every trial of a sweep that reached the rung, with its metric there, in the
 * order S3 accepted their writes. Trials append to it with conditional writes
 * (agent/sweep/rungStore.ts) and decide on it with `decideAtRung` (asha.ts). A change an older
 * agent could not read must bump {@link RUNG_RECORD_SCHEMA_VERSION}. Pure: no I/O.
 */
export const RUNG_RECORD_SCHEMA_VERSION = 1;

/** A valid rung record. The types are written out, so the package's public declarations do not import zod. */
export interface RungRecord {
  readonly schemaVersion: typeof RUNG_RECORD_SCHEMA_VERSION;
  readonly sweepId: string;
  /** The rung's index k, from 0: the rung at `minEpochs·η^k` epochs. */
  readonly rung: number;
  /** The rung's epoch, minEpochs·η^k (see `rungEpochs`). */
  readonly epoch: number;
  /** Append order; at most one entry a trial. */
  readonly entries: readonly RungEntry[];
}

/** Which record the reader expects: a record of another sweep or rung at the key is refused. */
export interface RungRecordExpectation {
  readonly sweepId: string;
  readonly rung: number;
  readonly epoch: number;
}

/** Thrown by {@link parseRungRecord}; `problems` has every problem, each as `path: what` (`entries[2].value: must be a finite number`). */
export class InvalidRungRecordError extends Error {
  override readonly name = "InvalidRungRecordError";

  constructor(readonly problems: readonly string[]) {
    // One line: it ends up in the agent's JSON log lines.
    super(`not a valid rung record: ${problems.join("; ")}`);
  }
}

const entrySchema = z.object({
  trialId: z.string({ error: "must be a string" }).regex(RUN_ID_PATTERN, { error: "must be a run id: 1-48 characters of a-z, 0-9 and '-'" }),
  // zod 4's number refuses NaN and ±Infinity: one of them would make every later cutoff meaningless.
  value: z.number({ error: "must be a finite number" }),
  epoch: z.int({ error: "must be a whole number" }).min(1, { error: "must be at least 1" }),
  recordedAt: z.iso.datetime({ error: 'must be an ISO 8601 UTC time, e.g. "2026-11-29T12:00:00.000Z"' }),
});

const recordSchema = z
  .object({
    schemaVersion: z.literal(RUNG_RECORD_SCHEMA_VERSION, { error: `must be ${RUNG_RECORD_SCHEMA_VERSION}` }),
    sweepId: z.string({ error: "must be a string" }),
    rung: z.int({ error: "must be a whole number" }).min(0, { error: "must be 0 or more" }),
    epoch: z.int({ error: "must be a whole number" }).min(1, { error: "must be at least 1" }),
    entries: z.array(entrySchema, { error: "must be an array of entries" }).readonly(),
  })
  .check((ctx) => {
    // A second entry of a trial would count it twice in every later cutoff; an entry from before
    // the rung's epoch was never at the rung.
    const seen = new Set<string>();
    ctx.value.entries.forEach((entry, i) => {
      if (seen.has(entry.trialId)) ctx.issues.push({ code: "custom", path: ["entries", i, "trialId"], message: `${entry.trialId} has an earlier entry: one entry a trial`, input: entry.trialId });
      seen.add(entry.trialId);
      if (entry.epoch < ctx.value.epoch) ctx.issues.push({ code: "custom", path: ["entries", i, "epoch"], message: `must be at least the rung's epoch (${ctx.value.epoch})`, input: entry.epoch });
    });
  });

type Assignable<A, B> = [A] extends [B] ? true : false;
/** Compiles only while the written-out type and the schema agree, both ways. */
const typeMatchesSchema: [Assignable<z.output<typeof recordSchema>, RungRecord>, Assignable<RungRecord, z.output<typeof recordSchema>>] = [true, true];
void typeMatchesSchema;

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((out, segment) => (typeof segment === "number" ? `${out}[${segment}]` : out === "" ? String(segment) : `${out}.${String(segment)}`), "") || "(rung record)";

/**
 * Checks a rung record (the parsed JSON value or its text) and that it is the one `expected`
 * names; returns it, or throws an {@link InvalidRungRecordError} listing every problem.
 */
export function parseRungRecord(json: unknown, expected: RungRecordExpectation): RungRecord {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (error) {
      throw new InvalidRungRecordError([`(rung record): is not valid JSON: ${(error as Error).message}`]);
    }
  }
  const problems: string[] = [];
  const result = recordSchema.safeParse(value);
  if (!result.success) problems.push(...result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`));
  // Checked on the raw value as well, so one parse reports every problem.
  const raw = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  for (const field of ["sweepId", "rung", "epoch"] as const) {
    if (raw[field] !== undefined && raw[field] !== expected[field]) problems.push(`${field}: is ${JSON.stringify(raw[field])}, expected ${JSON.stringify(expected[field])}`);
  }
  if (problems.length > 0 || !result.success) throw new InvalidRungRecordError(problems);
  return result.data;
}
