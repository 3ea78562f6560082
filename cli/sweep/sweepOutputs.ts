import { readOutputsFileJson, readStackOutputValues, StackOutputsError, type OutputsFlags } from "../stackOutputs";

/**
 * The outputs of a sweep stack that `sweep status` and `sweep leaderboard` need: the sweep's id and
 * the artifact bucket its manifest lives in (`sweeps/<sweepId>/sweep.json`), and the region. A
 * sweep stack has no single `runId`, so these are checked here rather than by `parseStackOutputs`,
 * which requires one; they are read the same two ways (an outputs file, or the stack).
 */
export interface SweepOutputs {
  readonly sweepId: string;
  readonly artifactBucketName: string;
  readonly region: string;
  /** Where they came from, for messages: `stack dev` or the outputs file. */
  readonly origin: string;
  /** The stack's name when known (--stack or PULUMI_STACK): it names the winner's stack file. */
  readonly stack: string | null;
}

const NOT_A_SWEEP =
  "is it a sweep stack? Declare yolo-train:sweep in Pulumi.<stack>.yaml (docs/sweeps.md), check it with `yolo-train sweep plan --stack <stack>`, then `pulumi up`";

/** Checks the outputs; every missing one is named in one message. */
export function parseSweepOutputs(json: unknown, origin: string, stack: string | null): SweepOutputs {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new StackOutputsError(`${origin}: stack outputs must be a JSON object (the output of \`pulumi stack output --json\`)`);
  }
  const values = json as Record<string, unknown>;
  const missing = (["sweepId", "artifactBucketName", "region"] as const).filter((k) => typeof values[k] !== "string" || values[k] === "");
  if (missing.length > 0) {
    const what = `missing stack output${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`;
    throw new StackOutputsError(missing.includes("sweepId") ? `${origin}: ${what}; ${NOT_A_SWEEP}` : `${origin}: ${what}; was the stack deployed with \`pulumi up\`?`);
  }
  return { sweepId: values.sweepId as string, artifactBucketName: values.artifactBucketName as string, region: values.region as string, origin, stack };
}

/** `--outputs-file` wins; else the named stack (or PULUMI_STACK) in `workDir`, through the Automation API. */
export async function readSweepOutputs(flags: OutputsFlags, workDir: string, env: NodeJS.ProcessEnv): Promise<SweepOutputs> {
  const stack = flags.stack ?? (env.PULUMI_STACK || undefined) ?? null;
  if (flags.outputsFile !== undefined) return parseSweepOutputs(await readOutputsFileJson(flags.outputsFile), flags.outputsFile, stack);
  if (stack === null) {
    throw new StackOutputsError("Say which sweep stack: --stack NAME (or PULUMI_STACK), or --outputs-file outputs.json from `pulumi stack output --json`.");
  }
  return parseSweepOutputs(await readStackOutputValues(stack, workDir, env), `stack ${stack}`, stack);
}
