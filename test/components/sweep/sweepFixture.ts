import { parseExperimentConfig, parseSweepConfig, type RawStackConfig, type StackContext, type SweepPlanInput } from "../../../config";

/** The stack every sweep test deploys in, unless told otherwise. */
export const CONTEXT = { project: "yolo-train", stack: "dev", region: "us-east-1" };

/** The launch time every trial's backstop is first anchored at. */
export const LAUNCH = new Date("2026-03-01T08:00:00Z");

/**
 * A 4-trial grid (imgsz × lr0) over a debug base of 27 epochs, 2 at once, ASHA from epoch 3
 * (rungs 3 and 9), a $40 budget: what `parseSweepConfig` returns for such a stack.
 */
export function fourTrialPlan(base: RawStackConfig = {}, sweep: Record<string, unknown> = {}, context: StackContext = CONTEXT): SweepPlanInput {
  const config = parseExperimentConfig({ stage: "debug", epochs: "27", datasetImages: "5000", hyperparameters: { optimizer: "SGD" }, ...base }, context);
  return parseSweepConfig(
    { method: "grid", space: { imgsz: [320, 640], lr0: [0.01, 0.02] }, maxParallel: 2, asha: { minEpochs: 3 }, budgetUsd: 40, ...sweep },
    config,
    context,
  );
}

/** A policy document's statements (an inline role policy's `policy` input). */
export interface Statement {
  readonly Sid: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

export function statementsOf(policy: string): Statement[] {
  return (JSON.parse(policy) as { Statement: Statement[] }).Statement;
}

export const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : typeof v === "string" ? [v] : v);
