import * as fs from "fs";
import { OUTPUTS_FILE_ALTERNATIVE, withPulumiCli } from "./stackAutomation";

/**
 * The stack outputs the operating commands need (index.ts), read either from a stack through the
 * Pulumi Automation API or from the JSON of `pulumi stack output --json` (CI, tests).
 */
export interface InstanceRateOutput {
  readonly instanceType: string;
  readonly onDemandUsdPerHour: number;
  readonly spotUsdPerHour?: number;
}

export interface EstimateOutput {
  readonly capacity: string | null;
  readonly instanceTypes: readonly InstanceRateOutput[];
  readonly chosenInstanceType: { readonly instanceType: string; readonly usdPerHour: number } | null;
  readonly hours: number | null;
  readonly imagesPerSecond: number | null;
  readonly estimatedUsd: number | null;
  readonly onDemandUsd: number | null;
}

export interface StackOutputs {
  readonly runId: string;
  readonly region: string;
  readonly artifactBucketName: string;
  readonly artifactPrefix: string;
  readonly datasetBucketName: string | null;
  /** The OTA bucket the run publishes to (released models); null in outputs of stacks from before it was an output. */
  readonly otaBucketName: string | null;
  /**
   * The buckets the stack owns, which `pulumi destroy` deletes: not a shared OTA bucket. Null in
   * outputs of stacks from before it was an output (then every bucket above is the stack's own).
   */
  readonly ownedBucketNames: readonly string[] | null;
  readonly autoScalingGroupName: string;
  readonly logGroupName: string;
  readonly estimate: EstimateOutput | null;
}

export interface StackOutputsSource {
  /** Where the outputs come from, for messages ("stack dev", "outputs.json"). */
  readonly origin: string;
  read(): Promise<StackOutputs>;
}

export class StackOutputsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackOutputsError";
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Checks the outputs a command needs; every missing one is named in one message. */
export function parseStackOutputs(json: unknown, origin: string): StackOutputs {
  if (!isObject(json)) throw new StackOutputsError(`${origin}: stack outputs must be a JSON object (the output of \`pulumi stack output --json\`)`);
  const required = ["runId", "region", "artifactBucketName", "artifactPrefix", "autoScalingGroupName", "logGroupName"] as const;
  const missing = required.filter((k) => typeof json[k] !== "string" || json[k] === "");
  if (missing.length > 0) {
    throw new StackOutputsError(`${origin}: missing stack output${missing.length > 1 ? "s" : ""} ${missing.join(", ")}; was the stack deployed with \`pulumi up\`?`);
  }
  const str = (k: (typeof required)[number]): string => json[k] as string;
  return {
    runId: str("runId"),
    region: str("region"),
    artifactBucketName: str("artifactBucketName"),
    artifactPrefix: str("artifactPrefix"),
    datasetBucketName: typeof json.datasetBucketName === "string" ? json.datasetBucketName : null,
    otaBucketName: typeof json.otaBucketName === "string" ? json.otaBucketName : null,
    ownedBucketNames: Array.isArray(json.ownedBucketNames) && json.ownedBucketNames.every((b) => typeof b === "string") ? (json.ownedBucketNames as string[]) : null,
    autoScalingGroupName: str("autoScalingGroupName"),
    logGroupName: str("logGroupName"),
    estimate: parseEstimate(json.estimate),
  };
}

function parseEstimate(value: unknown): EstimateOutput | null {
  if (!isObject(value)) return null;
  const rates = Array.isArray(value.instanceTypes) ? value.instanceTypes : [];
  const instanceTypes: InstanceRateOutput[] = [];
  for (const r of rates) {
    if (!isObject(r) || typeof r.instanceType !== "string" || numOrNull(r.onDemandUsdPerHour) === null) continue;
    const spot = numOrNull(r.spotUsdPerHour);
    instanceTypes.push({ instanceType: r.instanceType, onDemandUsdPerHour: r.onDemandUsdPerHour as number, ...(spot !== null ? { spotUsdPerHour: spot } : {}) });
  }
  const chosen = value.chosenInstanceType;
  return {
    capacity: typeof value.capacity === "string" ? value.capacity : null,
    instanceTypes,
    chosenInstanceType:
      isObject(chosen) && typeof chosen.instanceType === "string" && numOrNull(chosen.usdPerHour) !== null
        ? { instanceType: chosen.instanceType, usdPerHour: chosen.usdPerHour as number }
        : null,
    hours: numOrNull(value.hours),
    imagesPerSecond: numOrNull(value.imagesPerSecond),
    estimatedUsd: numOrNull(value.estimatedUsd),
    onDemandUsd: numOrNull(value.onDemandUsd),
  };
}

/** `--outputs-file outputs.json`: the JSON `pulumi stack output --json` prints. */
export class FileStackOutputs implements StackOutputsSource {
  constructor(readonly file: string) {}

  get origin(): string {
    return this.file;
  }

  async read(): Promise<StackOutputs> {
    return parseStackOutputs(await readOutputsFileJson(this.file), this.file);
  }
}

/** The JSON of an outputs file (`pulumi stack output --json`), unchecked; what is wrong with the file is said as such. */
export async function readOutputsFileJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, "utf8");
  } catch (error) {
    throw new StackOutputsError(`Cannot read --outputs-file ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new StackOutputsError(`${file} is not JSON: ${(error as Error).message}`);
  }
}

/** A deployed stack's outputs as plain values, unchecked, through the Automation API (needs the Pulumi CLI). */
export async function readStackOutputValues(stackName: string, workDir: string, env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  return withPulumiCli(env, OUTPUTS_FILE_ALTERNATIVE, async () => {
    // Loaded lazily: the Automation API is heavy and not needed with --outputs-file.
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    const stack = await LocalWorkspace.selectStack({ stackName, workDir });
    const outputs = await stack.outputs();
    const values: Record<string, unknown> = {};
    for (const [key, output] of Object.entries(outputs)) values[key] = output.value;
    return values;
  });
}

/**
 * A deployed stack's outputs through the Automation API (needs the Pulumi CLI and the stack's
 * backend login). A thin adapter: all checking is in {@link parseStackOutputs}.
 */
export class AutomationStackOutputs implements StackOutputsSource {
  constructor(
    readonly stackName: string,
    readonly workDir: string,
    /** Where `pulumi` is looked for (PATH): a missing CLI is said as such, not `spawn pulumi ENOENT`. */
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  get origin(): string {
    return `stack ${this.stackName}`;
  }

  async read(): Promise<StackOutputs> {
    return parseStackOutputs(await readStackOutputValues(this.stackName, this.workDir, this.env), this.origin);
  }
}

export interface OutputsFlags {
  readonly stack?: string;
  readonly outputsFile?: string;
}

/** `--outputs-file` wins; else the named stack (or PULUMI_STACK) in `workDir`. */
export function stackOutputsSource(flags: OutputsFlags, workDir: string, env: NodeJS.ProcessEnv = process.env): StackOutputsSource {
  if (flags.outputsFile !== undefined) return new FileStackOutputs(flags.outputsFile);
  const stack = flags.stack ?? env.PULUMI_STACK;
  if (stack === undefined || stack === "") {
    throw new StackOutputsError("Say which stack: --stack NAME (or PULUMI_STACK), or --outputs-file outputs.json from `pulumi stack output --json`.");
  }
  return new AutomationStackOutputs(stack, workDir, env);
}
