import * as fs from "fs";
import * as path from "path";

/**
 * The Pulumi Automation API operations the CLI performs, behind small interfaces so the commands
 * are tested with fakes (there is no Pulumi CLI in CI). The implementations are thin adapters
 * and load `@pulumi/pulumi/automation` only when called.
 */

export const PULUMI_INSTALL_URL = "https://www.pulumi.com/docs/install/";

/**
 * The Automation API runs the `pulumi` CLI, which is not installed: a usage problem (exit 2),
 * said with what to do instead of `spawn pulumi ENOENT`.
 */
export class PulumiCliNotFoundError extends Error {
  /** @param alternative what works without the CLI, e.g. "or pass --outputs-file <file>" */
  constructor(alternative: string) {
    super(`Pulumi CLI not found: install it (${PULUMI_INSTALL_URL}), ${alternative}`);
    this.name = "PulumiCliNotFoundError";
  }
}

/** What `status`, `cost`, `logs` and `down` can use instead of the CLI. */
export const OUTPUTS_FILE_ALTERNATIVE = "or pass --outputs-file <file> (the JSON of `pulumi stack output --json`, saved where the CLI is installed)";

/**
 * The `pulumi` executable the Automation API would run (it runs `pulumi` from PATH), or
 * undefined when PATH has none.
 */
export function findPulumiCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const windows = process.platform === "win32";
  const names = windows ? (env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";").map((ext) => `pulumi${ext.toLowerCase()}`) : ["pulumi"];
  for (const dir of (env.PATH ?? env.Path ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        if (!fs.statSync(candidate).isFile()) continue;
        if (!windows) fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * Whether an Automation API error means the CLI could not be started: its CommandError wraps
 * the spawn error (`spawn pulumi ENOENT`).
 */
export function isPulumiCliMissing(error: unknown): boolean {
  const e = error as { message?: unknown; commandResult?: { err?: { code?: unknown; syscall?: unknown; message?: unknown } } } | null;
  if (e === null || typeof e !== "object") return false;
  const spawnError = e.commandResult?.err;
  if (spawnError?.code === "ENOENT" && typeof spawnError.syscall === "string" && /^spawn\b.*pulumi/.test(spawnError.syscall)) return true;
  const text = [e.message, spawnError?.message].filter((m): m is string => typeof m === "string").join("\n");
  return /spawn \S*pulumi(\.exe|\.cmd)? ENOENT/.test(text);
}

/**
 * Runs an Automation API call: refuses before it when PATH has no `pulumi`, and turns a failed
 * spawn into {@link PulumiCliNotFoundError}.
 */
export async function withPulumiCli<T>(env: NodeJS.ProcessEnv, alternative: string, body: () => Promise<T>): Promise<T> {
  if (findPulumiCli(env) === undefined) throw new PulumiCliNotFoundError(alternative);
  try {
    return await body();
  } catch (error) {
    if (isPulumiCliMissing(error)) throw new PulumiCliNotFoundError(alternative);
    throw error;
  }
}

export interface DestroyInput {
  readonly stackName: string;
  /** Folder holding Pulumi.yaml. */
  readonly workDir: string;
  /** Engine output as it comes (the destroy's progress). */
  readonly onOutput: (text: string) => void;
}

export interface StackDestroyer {
  /** Throws when a destroy cannot run at all (no Pulumi CLI): checked before anything is changed. */
  ensureAvailable?(): Promise<void>;
  destroy(input: DestroyInput): Promise<void>;
}

const DESTROY_ALTERNATIVE = "or destroy the stack where it is installed (`pulumi destroy`); `yolo-train down` without --all stops the compute without it";

/** `pulumi destroy` of an existing stack (needs the Pulumi CLI and the stack's backend login). */
export class AutomationStackDestroyer implements StackDestroyer {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async ensureAvailable(): Promise<void> {
    if (findPulumiCli(this.env) === undefined) throw new PulumiCliNotFoundError(DESTROY_ALTERNATIVE);
  }

  async destroy(input: DestroyInput): Promise<void> {
    await withPulumiCli(this.env, DESTROY_ALTERNATIVE, async () => {
      const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
      const stack = await LocalWorkspace.selectStack({ stackName: input.stackName, workDir: input.workDir });
      await stack.destroy({ onOutput: input.onOutput });
    });
  }
}

/** The engine events `launch` displays (a subset of the Automation API's EngineEvent). */
export interface UpEvent {
  readonly resourcePreEvent?: { readonly metadata: { readonly op: string; readonly urn: string; readonly type: string } };
  readonly resOutputsEvent?: { readonly metadata: { readonly op: string; readonly urn: string; readonly type: string } };
  readonly resOpFailedEvent?: { readonly metadata: { readonly op: string; readonly urn: string; readonly type: string } };
  readonly diagnosticEvent?: { readonly message: string; readonly severity: string; readonly urn?: string };
  readonly summaryEvent?: { readonly durationSeconds: number; readonly resourceChanges: Readonly<Record<string, number>> };
}

export interface UpInput {
  readonly stackName: string;
  readonly workDir: string;
  /** Full keys (`yolo-train:epochs`, `aws:region`) → text, set on the stack before `up`. */
  readonly config: Readonly<Record<string, string>>;
  /** Keys are paths into structured values (`yolo-train:ota.bucket`), as `pulumi config set --path`. */
  readonly configPaths?: boolean;
  readonly onOutput: (text: string) => void;
  readonly onEvent: (event: UpEvent) => void;
}

export interface UpResult {
  /** Stack outputs as plain values (secrets included as their values). */
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly result: string;
}

export interface StackLauncher {
  up(input: UpInput): Promise<UpResult>;
}

/** `launch` deploys through the CLI; nothing stands in for it. */
const UP_ALTERNATIVE = "then run launch again (it deploys with `pulumi up`; `yolo-train plan` checks a stack without it)";

/** Select-or-create, setAllConfig, up: the Automation API as `pulumi up` in `workDir`. */
export class AutomationStackLauncher implements StackLauncher {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async up(input: UpInput): Promise<UpResult> {
    return withPulumiCli(this.env, UP_ALTERNATIVE, async () => {
      const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
      const stack = await LocalWorkspace.createOrSelectStack({ stackName: input.stackName, workDir: input.workDir });
      const config = Object.fromEntries(Object.entries(input.config).map(([key, value]) => [key, { value }]));
      if (Object.keys(config).length > 0) await stack.setAllConfig(config, input.configPaths ?? false);
      const up = await stack.up({ onOutput: input.onOutput, onEvent: (event) => input.onEvent(event as UpEvent) });
      const outputs: Record<string, unknown> = {};
      for (const [key, output] of Object.entries(up.outputs)) outputs[key] = output.value;
      return { outputs, result: up.summary.result };
    });
  }
}
