/**
 * `<dest>/trust.json`: what this box learnt about the root of trust and the timestamp, so the
 * next pull starts its walk of root documents where the last one ended and can tell a replayed
 * timestamp from a new one, and `edge status` can say how fresh the last view was. Written
 * atomically like `state.json`. The documents are kept as the signed bytes that were verified;
 * a file this code cannot read is ignored (the next pull starts again from the pinned root key),
 * never trusted.
 */
import { promises as fs } from "fs";
import * as path from "path";
import { z } from "zod";
import { LocalIoError, describeError } from "./errors";
import { writeFileAtomically } from "./stateStore";

export const TRUST_FILE = "trust.json";
const TRUST_SCHEMA_VERSION = 1;

const TrustSchema = z.strictObject({
  schemaVersion: z.literal(TRUST_SCHEMA_VERSION),
  modelName: z.string().min(1),
  /** Fingerprint of the pinned root key the stored root was reached from; another pinned key starts over. */
  anchor: z.string().min(1),
  /** The newest root document verified, base64 of its envelope bytes. */
  root: z.string().min(1),
  /** The newest timestamp accepted, base64 of its envelope bytes. */
  timestamp: z.string().min(1).optional(),
  /** The outcome of the last pull's check of the view: `fresh`, or `stale` with why. */
  lastCheck: z
    .strictObject({
      at: z.iso.datetime(),
      outcome: z.enum(["fresh", "stale"]),
      channel: z.string().min(1),
      problem: z.string().optional(),
    })
    .optional(),
});

export type StoredTrust = z.output<typeof TrustSchema>;

/** The stored trust of `dest`, or undefined when there is none or it cannot be read as one. */
export async function readTrust(dest: string): Promise<StoredTrust | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dest, TRUST_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new LocalIoError(`Cannot read ${path.join(dest, TRUST_FILE)}: ${describeError(error)}`, { cause: error });
  }
  try {
    const parsed = TrustSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Replaces `dest`'s stored trust atomically. */
export async function writeTrust(dest: string, trust: StoredTrust): Promise<void> {
  const checked = TrustSchema.parse(trust);
  await writeFileAtomically(path.join(dest, TRUST_FILE), Buffer.from(JSON.stringify(checked, null, 2) + "\n", "utf8"));
}
