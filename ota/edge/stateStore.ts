/**
 * `<dest>/state.json`: what this box has installed, above all the highest version ever
 * installed, which is the floor against rollback (a replayed older release is refused even
 * after a local `rollback`). Written atomically (temporary file, fsync, rename, fsync of the
 * folder), so a power cut leaves the old state or the new one, never half of either.
 */
import { randomBytes } from "crypto";
import { promises as fs } from "fs";
import * as path from "path";
import { z } from "zod";
import { LocalIoError, describeError } from "./errors";

export const STATE_FILE = "state.json";
export const STATE_SCHEMA_VERSION = 1;

const version = z.int().min(1);

const StateSchema = z.strictObject({
  schemaVersion: z.literal(STATE_SCHEMA_VERSION),
  modelName: z.string().min(1),
  /** The channel of the last pull that installed something. */
  channel: z.string().min(1),
  /** The highest version ever installed here. Never decreases, not even on `rollback`. */
  highestVersion: version,
  /** The version `<dest>/current` points at. */
  currentVersion: version,
  /** The version that ran before the current one, kept on disk for `rollback`. */
  previousVersion: version.optional(),
  /** Set by `rollback`: the version it went back from. Cleared by the next install. */
  rolledBackFrom: version.optional(),
  /** When the current version was installed (or rolled back to). */
  updatedAt: z.iso.datetime(),
});

/** What `state.json` holds (see the schema above for each field). A plain type, so the public declarations need no zod. */
export type EdgeState = {
  schemaVersion: typeof STATE_SCHEMA_VERSION;
  modelName: string;
  channel: string;
  highestVersion: number;
  currentVersion: number;
  previousVersion?: number | undefined;
  rolledBackFrom?: number | undefined;
  updatedAt: string;
};

/** Compiles only while {@link EdgeState} says exactly what the schema parses. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const stateTypeMatchesSchema: Same<z.output<typeof StateSchema>, EdgeState> = true;
void stateTypeMatchesSchema;

/** The state of `dest`, or undefined when nothing was ever installed there. */
export async function readState(dest: string): Promise<EdgeState | undefined> {
  const file = path.join(dest, STATE_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new LocalIoError(`Cannot read ${file}: ${describeError(error)}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new LocalIoError(`${file} is not valid JSON (${describeError(error)}); it is written atomically, so something else changed it. Restore it, or remove it to trust what <dest>/current points at.`);
  }
  const parsed = StateSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(state)"}: ${i.message}`).join("; ");
    throw new LocalIoError(`${file} is not a yolo-train edge state (${problems}). Restore it, or remove it to trust what <dest>/current points at.`);
  }
  return parsed.data;
}

/** Replaces `dest`'s state atomically. */
export async function writeState(dest: string, state: EdgeState): Promise<void> {
  const checked = StateSchema.parse(state);
  await writeFileAtomically(path.join(dest, STATE_FILE), Buffer.from(JSON.stringify(checked, null, 2) + "\n", "utf8"));
}

/** Writes `file` through a temporary file beside it, fsyncs it, renames it over `file` and fsyncs the folder. */
export async function writeFileAtomically(file: string, bytes: Buffer): Promise<void> {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const handle = await fs.open(temporary, "wx", 0o644);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, file);
    await fsyncDirectory(path.dirname(file));
  } catch (error) {
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw new LocalIoError(`Cannot write ${file}: ${describeError(error)}`, { cause: error });
  }
}

/** Makes a folder's entries (created, renamed, removed) durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
