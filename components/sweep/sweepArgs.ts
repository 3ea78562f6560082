/**
 * The `Sweep` component's arguments and their checks: every problem at once, before any resource,
 * each naming the argument (`Sweep.plan`, `Sweep.fleet.network`, `Sweep.keeperEveryMinutes`) or
 * the stack config key it comes from. Pure but for reading the Docker context's files (the image
 * checks), as `TrainingRun` does.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { SweepPlanInput } from "../../config/sweep/types";
import type { Problem } from "../../runspec/problems";
import type { FleetParts } from "../fleet/fleetParts";
import { trainingImageProblems } from "../image/trainingImage";
import { trainingImageArgsOf } from "../image/trainingImageArgs";
import type { StackIdentity } from "../naming/physicalNames";
import { trainingRunPartConflicts } from "../run/trainingRun";
import { runNameProblems, runResourceNames } from "../run/trainingRunNames";
import { keeperEveryMinutesProblems } from "./keeperSettings";
import { sweepTrialNaming, TRIAL_ID_PATTERN } from "./sweepNames";

export interface SweepArgs {
  /**
   * The checked sweep with its trials: `parseSweepConfig(raw, base, context)` (yolo-train/config),
   * or what the stack program reads from `yolo-train:sweep`. Every trial becomes an ordinary
   * `TrainingRun` (its own run id, group, checkpoints and run record) on the sweep's shared parts.
   */
  readonly plan: SweepPlanInput;
  /**
   * The shared parts of a `Fleet` (the fleet itself, or `Fleet.fromStackReference`): its network,
   * image, dataset bucket and OTA bucket serve every trial. A part the base config also names
   * (`network`, `image`, `ota.bucket`) is refused: which would win is a guess.
   * @default the sweep creates each part once: the base config's network, else a new VPC; the base
   *   config's image, else a build of `dockerContext`; a new dataset bucket; the base config's shared
   *   OTA bucket (`ota.bucket`), else a new `OtaBucket` with its keys
   */
  readonly fleet?: FleetParts;
  /**
   * The Weights & Biases API key when the base tracks with W&B: every trial's node reads it from
   * an SSM SecureString parameter; it is never in the manifest, the run specs or logs.
   * @default none (required when tracking is W&B)
   */
  readonly wandbApiKey?: pulumi.Input<string>;
  /**
   * When the sweep is deployed: every trial's max-runtime backstop is first anchored at
   * `launchTime + maxRuntimeHours`, and moved by the keeper when it starts the trial.
   * @default now, when the program runs
   */
  readonly launchTime?: Date;
  /**
   * Docker build context of the training image, when neither the fleet nor the base config gives one.
   * @default the package root (see `TrainingImageArgs.context`)
   */
  readonly dockerContext?: string;
  /**
   * Minutes between the keeper's rounds: a whole number from 1 to 60. A finished trial's slot
   * waits up to this long for the next trial.
   * @default 1
   */
  readonly keeperEveryMinutes?: number;
}


/**
 * Every problem with a sweep's arguments, before anything is created. Besides the arguments'
 * own rules, a trial the deployed sweep could not run is refused here, naming `Sweep.plan`:
 * early stopping with progressive phases (a trial's rungs count epochs of one phase), trials that
 * would each create an FSx for Lustre file system, or whose names would not fit AWS.
 */
export function sweepArgsProblems(name: string, args: SweepArgs, identity: StackIdentity): Problem[] {
  const problems: Problem[] = [];
  const plan = args.plan as SweepPlanInput | undefined;
  if (plan === undefined || plan === null || typeof plan !== "object" || !Array.isArray(plan.trials) || plan.trials.length === 0 || plan.base === undefined) {
    problems.push({
      key: "Sweep.plan",
      value: plan === undefined ? undefined : Array.isArray(plan?.trials) ? `${plan.trials.length} trials` : "(not a sweep plan)",
      allowed: "a checked sweep with at least one trial: what parseSweepConfig(raw, base, context) returns",
      fix: "parse the sweep with parseSweepConfig (yolo-train/config), which also refuses an empty space",
    });
    problems.push(...keeperEveryMinutesProblems("Sweep.keeperEveryMinutes", args.keeperEveryMinutes));
    return problems;
  }
  const base = plan.base;
  const trials = plan.trials;

  const badIds = trials.map((t) => t.id).filter((id) => !TRIAL_ID_PATTERN.test(id));
  const widths = new Set(trials.map((t) => t.id.length));
  const repeatedRuns = trials.map((t) => t.runId).filter((id, i, all) => all.indexOf(id) !== i);
  if (badIds.length > 0 || widths.size > 1 || repeatedRuns.length > 0) {
    problems.push({
      key: "Sweep.plan",
      value: badIds.length > 0 ? badIds : repeatedRuns.length > 0 ? { repeatedRunIds: repeatedRuns } : [...widths],
      allowed: "trials numbered t01, t02 … (one width), each a different run: as parseSweepConfig numbers them",
      fix: "pass the plan parseSweepConfig returned, unchanged",
    });
  }
  if (plan.asha !== undefined) {
    const progressive = trials.filter((t) => t.config.progressive !== undefined).map((t) => t.id);
    if (progressive.length > 0) {
      problems.push({
        key: "Sweep.plan",
        value: { asha: "on", progressiveTrials: progressive },
        allowed: "ASHA (sweep.asha) without progressive phases: a trial's rungs count the epochs of one phase",
        fix: "remove yolo-train:progressive from the base, or turn ASHA off (sweep.asha: off)",
      });
    }
  }
  const lustre = trials.filter((t) => t.config.datasetMount === "fsx-lustre").map((t) => t.id);
  if (lustre.length > 0) {
    problems.push({
      key: "Sweep.plan",
      value: { datasetMount: "fsx-lustre", trials: lustre.length },
      allowed: "a dataset mount shared cheaply by every trial: mountpoint or copy (each trial would create its own FSx for Lustre file system, about $168 a month each at 1.2 TB)",
      fix: "pulumi config set yolo-train:datasetMount mountpoint",
    });
  }
  const otaKinds = new Set(trials.map((t) => JSON.stringify([t.config.ota.modelName, t.config.ota.channel, t.config.ota.promote ?? null])));
  if (otaKinds.size > 1) {
    problems.push({
      key: "Sweep.plan",
      value: [...otaKinds],
      allowed: "one release settings (ota.modelName, channel, promote) for every trial: the sweep releases one winner",
      fix: "pass the plan parseSweepConfig returned: its trials share the base's ota",
    });
  }

  problems.push(...keeperEveryMinutesProblems("Sweep.keeperEveryMinutes", args.keeperEveryMinutes));
  if (base.tracking.kind === "wandb" && args.wandbApiKey === undefined) {
    problems.push({
      key: "Sweep.wandbApiKey",
      value: undefined,
      allowed: "the W&B API key (a secret) when the base tracks with W&B: every trial's node reads it",
      fix: "pass secrets.wandbApiKey from loadExperimentConfig(), or turn tracking off",
    });
  }

  // A fleet part the base config also names: TrainingRun's own check, named for the sweep.
  const fleet = args.fleet ?? {};
  for (const p of trainingRunPartConflicts({}, base, {}, fleet)) {
    problems.push({ ...p, allowed: p.allowed.replace(/TrainingRun\.fleet\./g, "Sweep.fleet.") });
  }
  const imageGiven = fleet.image !== undefined || base.image !== undefined;
  if (imageGiven && args.dockerContext !== undefined) {
    problems.push({
      key: "Sweep.dockerContext",
      value: args.dockerContext,
      allowed: `nothing when the image is given (${fleet.image !== undefined ? "Sweep.fleet.image" : "the stack config's image"}): nothing is built`,
      fix: "leave dockerContext out",
    });
  } else if (!imageGiven) {
    for (const p of trainingImageProblems(trainingImageArgsOf(base, args.dockerContext))) {
      problems.push(p.key === "TrainingImage.context" ? { ...p, key: "Sweep.dockerContext" } : p);
    }
  }

  if (badIds.length === 0 && widths.size === 1) {
    const naming = sweepTrialNaming(name, identity, trials.map((t) => t.id));
    for (const trial of trials) {
      for (const p of runNameProblems(runResourceNames(naming.trialName(trial.id), trial.runId, identity), identity)) {
        if (!problems.some((q) => q.key === p.key && q.allowed === p.allowed)) problems.push(p);
      }
    }
  }
  return problems;
}
