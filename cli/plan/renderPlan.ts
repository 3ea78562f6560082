import { PRICE_SNAPSHOT } from "../../catalog";
import { GUARDRAIL_DEFAULTS } from "../../components/guardrails/guardrailPlan";
import { firstUpWarnings, phaseEstimates, type PhaseEstimate } from "./planNotes";
import { renderPlannedResources } from "./resourceTree";
import type { OfflinePlan } from "./runOfflinePlan";
import { isSweepPlan, renderSweepStackPlan } from "./renderSweepStackPlan";
import { standingCosts } from "./standingCosts";

/** The stack outputs the plan reads (see index.ts). */
interface PlannedEstimate {
  gpu: string;
  gpusPerNode: number;
  capacity: "spot" | "on-demand";
  maxSpotPrice: number | null;
  instanceTypes: { instanceType: string; onDemandUsdPerHour: number; spotUsdPerHour?: number }[];
  chosenInstanceType: { instanceType: string; usdPerHour: number };
  hours: number | null;
  imagesPerSecond: number | null;
  estimatedUsd: number | null;
  onDemandUsd: number | null;
  savingUsd: number | null;
  savingPercent: number | null;
  capUsd: number;
  assumptions: string[];
}

interface PlannedGuardrails {
  idleMinutes: number;
  idleGpuPercent: number;
  maxRuntimeHours: number;
  /** Absent in the outputs of a stack program older than the key. */
  restartIfCheckpointLost?: boolean;
  backstopAt: string;
  budgetUsd: number | null;
  alertEmail: string | null;
}

interface PlannedDelivery {
  modelName: string;
  bucketName: string;
  prefix: string;
  sharedBucket: boolean;
  signingKeyArn: string;
  channel: "candidate" | "stable";
  promote: { metric: string; min: number; requireImprovement: boolean } | null;
  /** Null for a shared bucket; absent in the outputs of a stack program older than the key. */
  timestamp?: { functionName: string; refreshHours: number; expiresHours: number } | null;
}

const usd = (n: number) => (n < 10 ? `$${n.toFixed(2)}` : `$${n.toFixed(0)}`);
const rate = (n: number | undefined) => (n === undefined ? "—" : `$${n.toFixed(4)}`);

/** The offline plan as text: what `pulumi up` would create, what it would cost, what bounds it. Pure. */
export function renderPlan(plan: OfflinePlan): string {
  if (isSweepPlan(plan)) {
    const delivery = plan.outputs.delivery as PlannedDelivery | undefined;
    return renderSweepStackPlan(plan, delivery ? renderDelivery(delivery, "the sweep's winner (the best completed trial) is released") : []);
  }
  const estimate = plan.outputs.estimate as PlannedEstimate;
  const guardrails = plan.outputs.guardrails as PlannedGuardrails;
  const lines: string[] = [];
  lines.push(`yolo-train plan: stack ${plan.stack} of project ${plan.project}, region ${plan.region}`);
  lines.push("Offline: the stack program ran under Pulumi's mock runtime against a pretend AWS account; nothing was created.");
  lines.push(`Run id: ${String(plan.outputs.runId)}`);
  lines.push("");
  const warnings = firstUpWarnings(plan);
  if (warnings.length > 0) {
    lines.push("Warnings:", ...warnings.map((w) => `  - ${w}`), "");
  }

  lines.push(...renderPlannedResources(plan.resources));

  const capacity = estimate.capacity === "spot" ? "spot" : "on-demand";
  lines.push(
    `GPU capacity: ${capacity}, 1 node of ${estimate.gpusPerNode}× ${estimate.gpu.toUpperCase()}; ` +
      (estimate.capacity === "spot"
        ? "the group takes the type with the best price and spare capacity (price-capacity-optimized) of:"
        : "the group launches the first type AWS can place of:"),
  );
  const width = Math.max(...estimate.instanceTypes.map((t) => t.instanceType.length), 13);
  lines.push(`  ${"instance type".padEnd(width)}  on-demand $/h  spot $/h (median)`);
  for (const type of estimate.instanceTypes) {
    const chosen = type.instanceType === estimate.chosenInstanceType.instanceType ? "  ← used for the estimate" : "";
    lines.push(
      `  ${type.instanceType.padEnd(width)}  ${rate(type.onDemandUsdPerHour).padStart(13)}  ${rate(type.spotUsdPerHour).padStart(17)}${chosen}`,
    );
  }
  if (estimate.maxSpotPrice !== null) lines.push(`  spot price cap: $${estimate.maxSpotPrice}/h per instance`);
  lines.push("");

  if (estimate.hours !== null && estimate.estimatedUsd !== null) {
    const saving =
      estimate.capacity === "spot" && estimate.onDemandUsd !== null && estimate.savingUsd !== null
        ? ` on spot vs ${usd(estimate.onDemandUsd)} on demand (saves ${usd(estimate.savingUsd)}, ${Math.round(estimate.savingPercent ?? 0)} %)`
        : " on demand";
    lines.push(`Estimated run: ${estimate.hours.toFixed(2)} h, ${usd(estimate.estimatedUsd)}${saving}`);
  } else {
    lines.push("Estimated run: unknown (see the assumptions below)");
  }
  lines.push(...phaseEstimates(plan).map((p) => `  ${renderPhase(p)}`));
  lines.push(
    `Most it can cost: ${usd(estimate.capUsd)} (maxRuntimeHours ${guardrails.maxRuntimeHours} h at ` +
      `$${estimate.chosenInstanceType.usdPerHour.toFixed(4)}/h; spot prices move)`,
  );
  lines.push("Assumptions:");
  lines.push(...estimate.assumptions.map((a) => `  - ${a}`));
  lines.push("");

  lines.push("Guardrails:");
  lines.push(
    `  - idle GPU: below ${guardrails.idleGpuPercent} % on every GPU for ${guardrails.idleMinutes} min → group set to 0 nodes, alert (missing metrics never count as idle)`,
  );
  lines.push(
    `  - starved GPU: below ${GUARDRAIL_DEFAULTS.starvedGpuPercent} % on average for ${GUARDRAIL_DEFAULTS.starvedMinutes} min → ` +
      "alert only (data loading is the bottleneck)",
  );
  lines.push(
    `  - max runtime: ${guardrails.maxRuntimeHours} h → a schedule outside the node sets the group to 0 at ${guardrails.backstopAt}`,
  );
  lines.push(
    guardrails.restartIfCheckpointLost === true
      ? "  - lost checkpoint: none of the run's checkpoints can be restored → train again from the starting weights (restartIfCheckpointLost)"
      : "  - lost checkpoint: none of the run's checkpoints can be restored → the run fails and is torn down (set yolo-train:restartIfCheckpointLost to train again instead)",
  );
  lines.push(
    guardrails.budgetUsd !== null
      ? `  - budget: ${usd(guardrails.budgetUsd)}/month for this stack's cost allocation tag, alerts at 80 % and 100 %, and 100 % forecast`
      : "  - budget: none (set yolo-train:budgetUsd for AWS Budgets alerts)",
  );
  lines.push(
    guardrails.alertEmail !== null
      ? "  - alerts: SNS topic with an email subscription (confirm the email AWS sends)"
      : "  - alerts: SNS topic, no subscriber (set yolo-train:alertEmail to get emails)",
  );
  lines.push("");

  const delivery = plan.outputs.delivery as PlannedDelivery | undefined;
  if (delivery) {
    lines.push(...renderDelivery(delivery), "");
  }

  const standing = standingCosts(plan.resources);
  const fixedTotal = standing.fixed.reduce((sum, c) => sum + c.monthlyUsd, 0);
  lines.push(`Standing costs while no GPU runs: about ${usd(fixedTotal)}/month`);
  for (const cost of standing.fixed) lines.push(`  - ${cost.count}× ${cost.what}: ${usd(cost.monthlyUsd)}`);
  for (const usage of standing.usage) lines.push(`  - ${usage}`);
  lines.push("");
  lines.push(`Prices: ${PRICE_SNAPSHOT.source} (commit ${PRICE_SNAPSHOT.commit.slice(0, 12)}). ${PRICE_SNAPSHOT.note}`);
  return lines.join("\n");
}

/** `phase 1: imgsz 320, 50 epochs, ~0.42 h, $0.09`. */
function renderPhase(p: PhaseEstimate): string {
  const head = `phase ${p.phase}: imgsz ${p.imgsz}, ${p.epochs} epoch${p.epochs === 1 ? "" : "s"}`;
  if (p.hours === null) return `${head}, time unknown (set yolo-train:datasetImages)`;
  const cost = p.estimatedUsd !== null ? `, ${usd(p.estimatedUsd)}` : "";
  return `${head}, ~${p.hours.toFixed(2)} h${cost}${p.pastMaxRuntime ? " (does not finish within maxRuntimeHours: the backstop stops the run first)" : ""}`;
}

/** Where a completed run's model goes (or, for a sweep, its winner's), and what moves it to `stable`. */
function renderDelivery(d: PlannedDelivery, who = "every completed run publishes a release"): string[] {
  const where = d.sharedBucket
    ? `the shared bucket s3://${d.bucketName}/${d.prefix} (another stack owns it), signed with ${d.signingKeyArn}`
    : `this stack's bucket s3://${d.bucketName}/${d.prefix}, signed with its own KMS key`;
  const stable = d.promote
    ? `when ${d.promote.metric} ≥ ${d.promote.min}${d.promote.requireImprovement ? " and better than the current stable release" : ""}`
    : d.channel === "stable"
      ? "every release (ota.channel stable, no gate)"
      : "never automatically (set ota.promote for a quality gate)";
  const lines = [
    `Model delivery (OTA): model "${d.modelName}"`,
    `  - ${who} to ${where}, channel candidate`,
    `  - promotion to stable: ${stable}`,
  ];
  if (d.timestamp) {
    lines.push(
      `  - timestamps: a Lambda function re-signs each model's timestamp.json with the stack's timestamp key every ` +
        `${d.timestamp.refreshHours} h (each valid ${d.timestamp.expiresHours} h), and once at deploy; boxes refuse a view of the bucket whose timestamp expired`,
      "  - root key: signs root documents of trust only, from an administrator's workstation (yolo-train ota root sign); no role of this stack may use it",
    );
  } else if (d.timestamp === null && d.sharedBucket) {
    lines.push("  - timestamps and root key: the stack that owns the bucket signs them");
  }
  return lines;
}
