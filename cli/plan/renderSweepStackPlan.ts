import { PRICE_SNAPSHOT } from "../../catalog";
import type { SweepEstimate } from "../../catalog/sweepEstimate";
import { GUARDRAIL_DEFAULTS } from "../../components/guardrails/guardrailPlan";
import { firstUpWarnings } from "./planNotes";
import type { OfflinePlan } from "./runOfflinePlan";
import { renderPlannedResources } from "./resourceTree";
import { standingCosts } from "./standingCosts";

/** The sweep stack's outputs the plan reads (index.ts, `sweepStack`). */
interface PlannedSweep {
  method: string;
  trialCount: number;
  dimensions: string[];
  metric: string;
  direction: string;
  maxParallel: number;
  asha: { minEpochs: number; reductionFactor: number; maxEpochs: number; rungs: number[] } | null;
  budgetUsd: number | null;
  keeperSchedule: string;
  /** config/sweep/earlyStoppingAdvice.ts, computed by the stack program from the trials. */
  earlyStoppingWarnings?: string[];
}

interface PlannedSweepEstimate {
  trials: (SweepEstimate["trials"][number] & { trialId: string; runId: string; params: Record<string, unknown> })[];
  most: SweepEstimate["most"];
  expected: SweepEstimate["expected"] | null;
  quotas: SweepEstimate["quotas"];
  assumptions: string[];
}

interface PlannedSweepGuardrails {
  idleMinutes: number;
  idleGpuPercent: number;
  maxRuntimeHours: number;
  restartIfCheckpointLost: boolean;
  budgetUsd: number | null;
  alertEmail: string | null;
}

/** Whether the planned stack is a sweep (index.ts exports `sweepId` for one). */
export function isSweepPlan(plan: OfflinePlan): boolean {
  return typeof plan.outputs.sweepId === "string";
}

/** Advice on the planned sweep's early stopping (config/sweep/earlyStoppingAdvice.ts); none for a stack without a sweep. */
export function sweepPlanWarnings(plan: OfflinePlan): string[] {
  if (!isSweepPlan(plan)) return [];
  return [...((plan.outputs.sweep as PlannedSweep).earlyStoppingWarnings ?? [])];
}

const usd = (n: number) => (n < 10 ? `$${n.toFixed(2)}` : `$${n.toFixed(0)}`);

/**
 * The offline plan of a sweep stack as text: what `pulumi up` would create (the shared parts once,
 * every trial's group created empty, the keeper, the dashboard), what the sweep can cost, and what
 * bounds it. The per-trial table is `yolo-train sweep plan`'s, named at the top. Pure.
 */
export function renderSweepStackPlan(plan: OfflinePlan, delivery: string[]): string {
  const sweep = plan.outputs.sweep as PlannedSweep;
  const estimate = plan.outputs.sweepEstimate as PlannedSweepEstimate;
  const guardrails = plan.outputs.guardrails as PlannedSweepGuardrails;
  const lines: string[] = [];
  lines.push(`yolo-train plan: stack ${plan.stack} of project ${plan.project}, region ${plan.region}`);
  lines.push("Offline: the stack program ran under Pulumi's mock runtime against a pretend AWS account; nothing was created.");
  lines.push(
    `Sweep ${String(plan.outputs.sweepId)}: ${sweep.trialCount} trials (${sweep.method} over ${sweep.dimensions.join(", ")}), ` +
      `${sweep.direction} ${sweep.metric}, ${sweep.maxParallel} at once, ` +
      (sweep.asha ? `ASHA at epochs ${sweep.asha.rungs.join(", ")} (η ${sweep.asha.reductionFactor}, to ${sweep.asha.maxEpochs})` : "no early stopping"),
  );
  lines.push(`Every trial, with its parameters, run id, $/h, estimate and cap: yolo-train sweep plan --stack ${plan.stack}`);
  lines.push("");
  const warnings = [...firstUpWarnings(plan), ...sweepPlanWarnings(plan)];
  if (warnings.length > 0) lines.push("Warnings:", ...warnings.map((w) => `  - ${w}`), "");

  lines.push(...renderPlannedResources(plan.resources));

  lines.push("How it runs:");
  lines.push(
    `  - every trial's node group is created empty (desired 0, max 1); the keeper (a Lambda function, ${sweep.keeperSchedule}) gives the next pending trials capacity ` +
      `while fewer than ${sweep.maxParallel} run${sweep.budgetUsd !== null ? " and the budget allows" : ""}, in trial order, and moves each trial's max-runtime backstop to its start`,
  );
  lines.push(
    sweep.asha
      ? `  - at epochs ${sweep.asha.rungs.join(", ")} each trial records ${sweep.metric} and stops itself unless it is in the best 1/${sweep.asha.reductionFactor} of the trials that reached that epoch`
      : "  - every trial trains to its end (no early stopping)",
  );
  lines.push("  - when no trial runs or can start, the keeper releases the best completed trial's model as an OTA candidate (through the promotion gate)");
  lines.push("");

  lines.push("Cost:");
  const most = estimate.most;
  lines.push(
    `  Most it can cost: ${usd(most.usd)} (${most.binds === "budget" ? `the sweep budget binds; every trial to its max runtime would be ${usd(most.allTrialsToCapUsd)}` : "every trial to its max runtime"})`,
  );
  if (estimate.expected) {
    lines.push(`  Expected, every trial to its end: ${usd(estimate.expected.withoutAshaUsd)}`);
    if (estimate.expected.withAshaUsd !== undefined) {
      lines.push(`  Expected with ASHA: ${usd(estimate.expected.withAshaUsd)} (${estimate.expected.rungs.map((r) => `${r.trials} at epoch ${r.epochs}`).join(", ")})`);
    }
  } else {
    lines.push("  Expected: unknown (set datasetImages: the dataset's size decides the time); only the most it can cost bounds it.");
  }
  const rates = [...new Set(estimate.trials.map((t) => `${t.instanceType} at $${t.usdPerHour.toFixed(4)}/h (${t.capacity})`))];
  lines.push(`  Priced on: ${rates.join("; ")}`);
  for (const quota of estimate.quotas) {
    lines.push(
      `  Quota: ${quota.quotaName} (${quota.quotaCode}, ${quota.capacity}) must allow ${quota.vcpus} vCPUs: ${quota.nodes} × ${quota.instanceType} (${quota.vcpusPerNode} vCPUs) at once. ` +
        `Check: aws service-quotas get-service-quota --service-code ec2 --quota-code ${quota.quotaCode}`,
    );
  }
  if (estimate.assumptions.length > 0) {
    lines.push("  Assumptions:");
    lines.push(...estimate.assumptions.map((a) => `    - ${a}`));
  }
  lines.push("");

  lines.push("Guardrails (every trial, besides the agent's own):");
  lines.push(`  - idle GPU: below ${guardrails.idleGpuPercent} % on every GPU for ${guardrails.idleMinutes} min → the trial's group set to 0 nodes, alert; a trial still waiting (group at 0) publishes no metrics and is never alarmed`);
  lines.push(`  - starved GPU: below ${GUARDRAIL_DEFAULTS.starvedGpuPercent} % on average for ${GUARDRAIL_DEFAULTS.starvedMinutes} min → alert only`);
  lines.push(`  - max runtime: ${guardrails.maxRuntimeHours} h per trial → a schedule outside the node sets its group to 0, anchored when the keeper starts the trial`);
  lines.push(
    sweep.budgetUsd !== null
      ? `  - sweep budget: ${usd(sweep.budgetUsd)}: the keeper starts no trial once spent + committed would pass it; an AWS Budget over the yolo-train:sweep tag alerts at 80 % and 100 % (monthly: a sweep across a month boundary is counted per month)`
      : "  - sweep budget: none (set sweep.budgetUsd): the most above is every trial to its max runtime",
  );
  if (guardrails.budgetUsd !== null) lines.push(`  - stack budget: ${usd(guardrails.budgetUsd)}/month over the sweep's tag, alerts at 80 % and 100 %, and 100 % forecast`);
  lines.push(
    guardrails.alertEmail !== null
      ? "  - alerts: one SNS topic for every trial, the keeper and the budgets, with an email subscription (confirm the email AWS sends)"
      : "  - alerts: one SNS topic for every trial, the keeper and the budgets, no subscriber (set yolo-train:alertEmail to get emails)",
  );
  lines.push("");

  if (delivery.length > 0) lines.push(...delivery, "");

  const standing = standingCosts(plan.resources);
  const fixedTotal = standing.fixed.reduce((sum, c) => sum + c.monthlyUsd, 0);
  lines.push(`Standing costs while no GPU runs: about ${usd(fixedTotal)}/month (until \`pulumi destroy\`: the keeper keeps running after the sweep ends)`);
  for (const cost of standing.fixed) lines.push(`  - ${cost.count}× ${cost.what}: ${usd(cost.monthlyUsd)}`);
  for (const usage of standing.usage) lines.push(`  - ${usage}`);
  lines.push("");
  lines.push(`Prices: ${PRICE_SNAPSHOT.source} (commit ${PRICE_SNAPSHOT.commit.slice(0, 12)}). ${PRICE_SNAPSHOT.note}`);
  return lines.join("\n");
}
