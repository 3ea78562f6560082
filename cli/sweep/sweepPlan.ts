/**
 * `yolo-train sweep plan`: a stack's declared sweep (`yolo-train:sweep`) as trials, with the most
 * it can cost, what it is expected to cost with and without ASHA, and the EC2 vCPU quota it
 * needs at `maxParallel`. Offline and pure: the stack file in, text or JSON out.
 */
import { estimateSweep, type SweepEstimate } from "../../catalog/sweepEstimate";
// The config modules themselves, not the index: it re-exports loadExperimentConfig, which loads @pulumi/pulumi (seconds on a small box).
import { CONFIG_NAMESPACE } from "../../config/keys";
import { earlyStoppingWarnings } from "../../config/sweep/earlyStoppingAdvice";
import { checkSweepConfig } from "../../config/sweep/parseSweepConfig";
import type { SweepPlanInput } from "../../config/sweep/types";
import type { Problem } from "../../runspec/problems";
import { experimentConfigOf } from "../launchConfig";

export interface SweepPlan {
  readonly sweep: SweepPlanInput;
  readonly estimate: SweepEstimate;
}

/**
 * The sweep a stack's config values declare, with its estimate; or every problem (the base
 * experiment's and the sweep's) at once. `undefined` sweep when the stack declares none.
 */
export function sweepPlanOf(
  values: Readonly<Record<string, string>>,
  context: { readonly project: string; readonly stack: string; readonly secretKeys: readonly string[] },
): { readonly plan?: SweepPlan; readonly declared: boolean; readonly problems: readonly Problem[] } {
  const text = values[`${CONFIG_NAMESPACE}:sweep`];
  if (text === undefined) return { declared: false, problems: [] };
  const base = experimentConfigOf(values, context);
  if (base.config === undefined) return { declared: true, problems: base.problems };
  let raw: unknown = text;
  try {
    raw = JSON.parse(text);
  } catch {
    // Not JSON: the sweep checker says what it expected.
  }
  const region = values["aws:region"]!;
  const check = checkSweepConfig(raw, base.config, { project: context.project, stack: context.stack, region });
  if (check.plan === undefined) return { declared: true, problems: check.problems };
  return { declared: true, problems: [], plan: { sweep: check.plan, estimate: estimateSweep(check.plan) } };
}

/** The plan as text: trials, cost bounds, ASHA rungs, quotas, assumptions. */
export function renderSweepPlan(plan: SweepPlan): string {
  const { sweep, estimate } = plan;
  const usd = (n: number): string => `$${n.toFixed(2)}`;
  const lines: string[] = [];
  lines.push(
    `Sweep: ${sweep.trials.length} trials (${sweep.method}${sweep.seed !== undefined ? `, seed ${sweep.seed}` : ""}), ` +
      `${sweep.direction} ${sweep.metric}, ${sweep.maxParallel} at once` +
      (sweep.asha ? `, ASHA from epoch ${sweep.asha.minEpochs} (η ${sweep.asha.reductionFactor}, to ${sweep.asha.maxEpochs})` : ", no early stopping"),
  );
  const dimensions = sweep.space.map((d) => d.key);
  const warnings = earlyStoppingWarnings(sweep);
  if (warnings.length > 0) lines.push("", "Warnings:", ...warnings.map((w) => `  - ${w}`));
  lines.push("");
  const header = ["trial", ...dimensions, "run id", "instance", "$/h", "est. $", "cap $"];
  const rows = sweep.trials.map((trial, i) => {
    const e = estimate.trials[i]!;
    return [
      trial.id,
      ...dimensions.map((key) => String(trial.params[key])),
      trial.runId,
      e.instanceType,
      e.usdPerHour.toFixed(3),
      e.estimatedUsd !== undefined ? e.estimatedUsd.toFixed(2) : "?",
      e.capUsd.toFixed(2),
    ];
  });
  lines.push(...table([header, ...rows]));
  lines.push("");
  lines.push(
    `Most it can cost: ${usd(estimate.most.usd)} (${estimate.most.binds === "budget" ? `the budget binds; every trial to its max runtime would be ${usd(estimate.most.allTrialsToCapUsd)}` : "every trial to its max runtime"})`,
  );
  if (estimate.expected) {
    lines.push(`Expected, every trial to its end: ${usd(estimate.expected.withoutAshaUsd)}`);
    if (estimate.expected.withAshaUsd !== undefined) {
      const rungs = estimate.expected.rungs.map((r) => `${r.trials} at epoch ${r.epochs}`).join(", ");
      lines.push(`Expected with ASHA: ${usd(estimate.expected.withAshaUsd)} (${rungs})`);
    }
  } else {
    lines.push("Expected cost: unknown (set datasetImages: the dataset's size decides the time); only the most it can cost bounds it.");
  }
  for (const quota of estimate.quotas) {
    lines.push(
      `Quota: ${quota.quotaName} (${quota.quotaCode}, ${quota.capacity}) must allow ${quota.vcpus} vCPUs: ` +
        `${quota.nodes} × ${quota.instanceType} (${quota.vcpusPerNode} vCPUs) at once, beside whatever else runs in the account and region. ` +
        `Check: aws service-quotas get-service-quota --service-code ec2 --quota-code ${quota.quotaCode}`,
    );
  }
  if (estimate.assumptions.length > 0) {
    lines.push("");
    lines.push("Assumptions:");
    lines.push(...estimate.assumptions.map((a) => `  - ${a}`));
  }
  lines.push("");
  lines.push(
    "`pulumi up` deploys the sweep: every trial's node group waits at 0 nodes, and the sweep's keeper (a function run every minute) " +
      "starts at most maxParallel at once, within the budget; `npm run plan` shows the resources. Follow it with `yolo-train sweep status` and `sweep leaderboard`.",
  );
  return lines.join("\n");
}

/** Plain columns, left-aligned. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd());
}
