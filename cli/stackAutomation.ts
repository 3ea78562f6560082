/**
 * The Pulumi Automation API operations the CLI performs, behind small interfaces so the commands
 * are tested with fakes (there is no Pulumi CLI in CI). The implementations are thin adapters
 * and load `@pulumi/pulumi/automation` only when called.
 */

export interface DestroyInput {
  readonly stackName: string;
  /** Folder holding Pulumi.yaml. */
  readonly workDir: string;
  /** Engine output as it comes (the destroy's progress). */
  readonly onOutput: (text: string) => void;
}

export interface StackDestroyer {
  destroy(input: DestroyInput): Promise<void>;
}

/** `pulumi destroy` of an existing stack (needs the Pulumi CLI and the stack's backend login). */
export class AutomationStackDestroyer implements StackDestroyer {
  async destroy(input: DestroyInput): Promise<void> {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    const stack = await LocalWorkspace.selectStack({ stackName: input.stackName, workDir: input.workDir });
    await stack.destroy({ onOutput: input.onOutput });
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

/** Select-or-create, setAllConfig, up: the Automation API as `pulumi up` in `workDir`. */
export class AutomationStackLauncher implements StackLauncher {
  async up(input: UpInput): Promise<UpResult> {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: input.stackName, workDir: input.workDir });
    const config = Object.fromEntries(Object.entries(input.config).map(([key, value]) => [key, { value }]));
    if (Object.keys(config).length > 0) await stack.setAllConfig(config, input.configPaths ?? false);
    const up = await stack.up({ onOutput: input.onOutput, onEvent: (event) => input.onEvent(event as UpEvent) });
    const outputs: Record<string, unknown> = {};
    for (const [key, output] of Object.entries(up.outputs)) outputs[key] = output.value;
    return { outputs, result: up.summary.result };
  }
}
