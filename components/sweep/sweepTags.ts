/**
 * The tags that mark a sweep's resources (issue 12). Pure constants: `TrainingRun` tags a trial's
 * resources with them, the `Sweep` its shared ones, and the keeper's IAM policy is scoped by
 * {@link SWEEP_TAG_KEY} (`autoscaling:ResourceTag/yolo-train:sweep`).
 */

/** Every resource of a sweep carries `yolo-train:sweep = <sweepId>`: the keeper may set the capacity of groups with its own id only, and the sweep's AWS Budget counts the costs with it. */
export const SWEEP_TAG_KEY = "yolo-train:sweep";

/** A trial's resources also carry `yolo-train:trial = <trialId>` (`t01` …), for people reading the console and the bill. */
export const TRIAL_TAG_KEY = "yolo-train:trial";
