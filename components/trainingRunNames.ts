/** Physical names of one run's resources that must be known before the resources exist. */
export interface RunResourceNames {
  /**
   * The Auto Scaling group's name. Chosen here rather than by Pulumi because the run spec (in
   * the launch template's user data) and the node role's policy name the group, and the group
   * needs the launch template: a cycle that only a name fixed in advance breaks. It contains
   * the run id, so a new run gets a new group while the old one is deleted.
   */
  readonly groupName: string;
  /** Value of the `yolo-train:stack` cost allocation tag (budgets filter on it). */
  readonly costAllocationValue: string;
  /** SSM parameter holding the W&B API key. */
  readonly wandbParameterName: string;
}

const GROUP_NAME_MAX = 128;

/** Names for the run `runId` of the component `name` (e.g. `yolo-train-dev`). Pure. */
export function runResourceNames(name: string, runId: string): RunResourceNames {
  const base = name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "yolo-train";
  const room = GROUP_NAME_MAX - runId.length - 1;
  return {
    groupName: `${base.slice(0, room).replace(/-+$/, "")}-${runId}`,
    costAllocationValue: base,
    wandbParameterName: `/yolo-train/${base}/wandb-api-key`,
  };
}
