import { firstUpWarnings, phaseEstimates } from "./planNotes";
import { sweepPlanWarnings } from "./renderSweepStackPlan";
import { publicInputs } from "./resourceInputs";
import type { OfflinePlan } from "./runOfflinePlan";

/**
 * `plan --json`: every resource with its inputs (secrets as "[secret]"), for policy tools to
 * check what `pulumi up` would create; the stack outputs (secret ones as "[secret]"); the
 * estimate of each progressive phase; the warnings the text plan shows.
 */
export async function planJson(plan: OfflinePlan): Promise<Record<string, unknown>> {
  const resources = [];
  for (const { type, name, urn, parentUrn, custom, inputs } of plan.resources) {
    resources.push({ type, name, urn, parentUrn, custom, inputs: await publicInputs(inputs) });
  }
  return {
    project: plan.project,
    stack: plan.stack,
    region: plan.region,
    warnings: [...firstUpWarnings(plan), ...sweepPlanWarnings(plan)],
    estimatePhases: phaseEstimates(plan),
    resources,
    outputs: plan.publicOutputs,
  };
}
