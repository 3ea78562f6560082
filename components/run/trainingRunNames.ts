import type { Problem } from "../../runspec/problems";
import { logGroupNameOf } from "../compute/gpuNodeGroupPlan";
import { fitName, NAME_RULES, nameProblem, physicalName, stackScopedName, type NameRule, type StackIdentity } from "../naming/physicalNames";

/**
 * Physical names of one run's resources that must be known before the resources exist, or that
 * are unique per account and region and so name the project and stack. Every one fits its
 * service's rules for any project, stack and component name (see `physicalNames.ts`).
 */
export interface RunResourceNames {
  /**
   * The Auto Scaling group's name. Chosen here rather than by Pulumi because the run spec (in
   * the launch template's user data) and the node role's policy name the group, and the group
   * needs the launch template: a cycle that only a name fixed in advance breaks. It ends with
   * the run id, so a new run gets a new group while the old one is deleted.
   */
  readonly groupName: string;
  /** The run's log group, `/yolo-train/<groupName>` (created by the node group). */
  readonly logGroupName: string;
  /** Value of the `yolo-train:stack` cost allocation tag (budgets filter on it). */
  readonly costAllocationValue: string;
  /** SSM parameter holding the W&B API key. */
  readonly wandbParameterName: string;
  /** The run's CloudWatch dashboard (dashboards are account-wide): `<project>-<stack>-<runId>` in the stack program. */
  readonly dashboardName: string;
}

/** One level of an SSM parameter's path: no `/`, so the name keeps its three levels. */
const PARAMETER_SEGMENT: NameRule = { what: "SSM parameter path segment", maxLength: 200, allowed: /[A-Za-z0-9_.-]/ };

/**
 * Names for the run `runId` of the component `name` (e.g. `yolo-train-dev`). With `identity`, the
 * names that are unique per account and region carry the project and stack (unless `name` already
 * starts with `<project>-<stack>`, as the stack program's does), so two stacks, or two runs of one
 * spec under different component names, never share a group, log group, parameter or dashboard.
 * Pure and deterministic: the same arguments give the same names on every `pulumi up`.
 */
export function runResourceNames(name: string, runId: string, identity?: StackIdentity): RunResourceNames {
  const scoped = identity ? stackScopedName(name, identity) : name;
  // The run id stays whole at the end; the name before it is fitted into what is left.
  const groupRoom = NAME_RULES.autoScalingGroup.maxLength - runId.length - 1;
  const groupName = `${fitName(NAME_RULES.autoScalingGroup, scoped, groupRoom)}-${runId}`;
  const parameterSegment = physicalName(PARAMETER_SEGMENT, scoped);
  return {
    groupName,
    logGroupName: physicalName(NAME_RULES.logGroup, logGroupNameOf(groupName)),
    costAllocationValue: physicalName(NAME_RULES.tagValue, scoped),
    wandbParameterName: physicalName(NAME_RULES.ssmParameter, `/yolo-train/${parameterSegment}/wandb-api-key`),
    dashboardName: physicalName(NAME_RULES.dashboard, `${scoped}-${runId}`),
  };
}

/** The rule each of {@link RunResourceNames} must follow. */
export const RUN_NAME_RULES: { readonly [K in keyof RunResourceNames]: NameRule } = {
  groupName: NAME_RULES.autoScalingGroup,
  logGroupName: NAME_RULES.logGroup,
  costAllocationValue: NAME_RULES.tagValue,
  wandbParameterName: NAME_RULES.ssmParameter,
  dashboardName: NAME_RULES.dashboard,
};

/**
 * Problems with a run's names, keyed by what the user controls: the stack and project names (in
 * the stack program, the `TrainingRun` is named `<project>-<stack>`). None for names made by
 * {@link runResourceNames}; checked anyway before anything is registered, so a broken name can
 * never surface half-way through a deployment.
 */
export function runNameProblems(names: RunResourceNames, identity: StackIdentity): Problem[] {
  const problems: Problem[] = [];
  for (const key of Object.keys(RUN_NAME_RULES) as (keyof RunResourceNames)[]) {
    const rule = RUN_NAME_RULES[key];
    const problem = nameProblem(rule, names[key]);
    if (problem === undefined) continue;
    problems.push({
      key: "stack name",
      value: identity.stack,
      allowed: `a stack name (with project ${JSON.stringify(identity.project)}) that gives a valid ${rule.what}: ${JSON.stringify(names[key])} ${problem}`,
      fix: "report this as a bug in yolo-train; meanwhile, try a shorter stack name of letters, digits and -",
    });
  }
  return problems;
}
