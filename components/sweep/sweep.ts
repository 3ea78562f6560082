import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { estimateSweep, type SweepEstimate } from "../../catalog/sweepEstimate";
import type { ExperimentConfig } from "../../config/types";
import type { SweepPlanInput, SweepTrial } from "../../config/sweep/types";
import { sweepManifestKey } from "../../runspec/bucketLayout";
import { ProblemList } from "../../runspec/problems";
import { deriveSweepId } from "../../runspec/sweep/sweepManifest";
import { DatasetBucket } from "../storage/datasetBucket";
import { ArtifactBucket } from "../storage/artifactBucket";
import type { FleetParts } from "../fleet/fleetParts";
import { budgetNotifications, monthlyTagBudget } from "../guardrails/guardrailPlan";
import { alertTopic, subscribeAlertEmail } from "../guardrails/alertTopic";
import { TrainingImage } from "../image/trainingImage";
import { autoName, NAME_RULES, physicalName, stackScopedName } from "../naming/physicalNames";
import { Network } from "../network/network";
import { dashboardUrl } from "../observability/dashboardBody";
import { OtaBucket } from "../ota/otaBucket";
import { sharedOtaPart, type OtaDestination } from "../ota/otaDestination";
import { TrainingRun } from "../run/trainingRun";
import { sweepArgsProblems, type SweepArgs } from "./sweepArgs";
import { trainingImageArgsOf } from "../image/trainingImageArgs";
import { renderSweepDashboardBody } from "./sweepDashboardBody";
import { SweepKeeper } from "./sweepKeeper";
import { sweepManifestJson } from "./sweepManifestBody";
import { sweepTrialNaming, type SweepTrialNaming } from "./sweepNames";
import { SWEEP_TAG_KEY } from "./sweepTags";

export type { SweepArgs };

/** One trial as the sweep's outputs list it. */
export interface SweepTrialOutput {
  readonly trialId: string;
  readonly runId: string;
  readonly groupName: string;
}

/**
 * A hyperparameter sweep on AWS spot GPUs (issue 12; docs/sweeps.md): many variants of one
 * experiment config, each an ordinary {@link TrainingRun}, losers stopped early, the winner
 * released over the air.
 *
 * - **Shared parts once**: the network, the training image, the dataset bucket and the OTA bucket
 *   come from `fleet`, else are created once for the sweep (honouring the base config's `network`,
 *   `image` and shared `ota.bucket`); one artifact bucket holds every trial's run and the sweep's
 *   own objects (`sweeps/<sweepId>/`); one SNS topic gets every alarm and budget alert; one
 *   dashboard shows every trial.
 * - **Trials**: one `TrainingRun` per trial, on those parts, each with its run spec's `sweep`
 *   section (ASHA: the rung epochs below its epochs, the metric, the direction, η). Every group is
 *   created **empty** (desired 0, max 1) and tagged `yolo-train:sweep = <sweepId>`.
 * - **The keeper** ({@link SweepKeeper}): a scheduled Lambda function that gives the next pending
 *   trials capacity while fewer than `maxParallel` run and the budget allows, moving each trial's
 *   max-runtime backstop to its real start; and releases the winner when the sweep has ended.
 * - **The manifest** `sweeps/<sweepId>/sweep.json` (runspec/sweep/sweepManifest.ts): the trials,
 *   their groups, backstops, prices and caps, and each trial's stack config, for the keeper and
 *   `yolo-train sweep status|leaderboard`. Written before the keeper's first round.
 * - **Money**: with `plan.budgetUsd`, an AWS Budget over the sweep's tag alerts the topic (the
 *   keeper enforces the budget itself: no trial starts once spent + committed would pass it); the
 *   base config's `budgetUsd` is a second, monthly budget over the same tag.
 *
 * The sweep id derives from the trials' run ids, the metric, the direction and ASHA's rungs: a
 * second `pulumi up` of the same sweep keeps it (and its rung records); a changed sweep is a new
 * one. Everything is checked before the first resource is registered, every problem at once.
 *
 * @example
 * // index.ts of a Pulumi program: a sweep over the stack's experiment config.
 * import { Sweep } from "yolo-train";
 * import { loadExperimentConfig, parseSweepConfig } from "yolo-train/config";
 *
 * const { config, secrets } = loadExperimentConfig();
 * const plan = parseSweepConfig(
 *   { method: "grid", space: { imgsz: [416, 640], lr0: [0.005, 0.01] }, maxParallel: 2, asha: { minEpochs: 5 }, budgetUsd: 60 },
 *   config,
 *   { project: config.project, stack: config.stack, region: config.region },
 * );
 * const sweep = new Sweep(`${config.project}-${config.stack}`, {
 *   plan,
 *   ...(secrets.wandbApiKey ? { wandbApiKey: secrets.wandbApiKey } : {}),
 * });
 * export const sweepId = sweep.sweepId;
 * export const artifactBucketName = sweep.artifactBucketName; // with sweepId and region: what `yolo-train sweep status` reads
 * export const region = config.region;
 * export const dashboardUrl = sweep.dashboardUrl;
 */
export class Sweep extends pulumi.ComponentResource {
  readonly sweepId: string;
  readonly plan: SweepPlanInput;
  /** The plan's numbers: per trial $/h and cap, the most the sweep can cost, expected costs, vCPU quotas. */
  readonly estimate: SweepEstimate;
  /** How the trials are named, and the pattern the keeper's IAM matches their backstops by. */
  readonly naming: SweepTrialNaming;
  /** The parts every trial uses: the fleet's, or the sweep's own below. */
  readonly parts: Required<Pick<FleetParts, "network" | "image" | "datasetBucket" | "ota">> & Pick<FleetParts, "costTagValue">;
  /** The network this sweep created; undefined when the fleet gives one. */
  readonly ownNetwork: Network | undefined;
  /** The image this sweep built (or named, with the base's `image`); undefined when the fleet gives one. */
  readonly ownImage: TrainingImage | undefined;
  /** The dataset bucket this sweep created; undefined when the fleet gives one. */
  readonly ownDatasetBucket: DatasetBucket | undefined;
  /** The OTA bucket with its release, root and timestamp keys this sweep created; undefined with a fleet's or a shared (`ota.bucket`) one. */
  readonly otaBucket: OtaBucket | undefined;
  /** Where the winner is released (every trial's destination). */
  readonly ota: OtaDestination;
  /** `<modelsPrefix><modelName>/` in the OTA bucket. */
  readonly otaPrefix: pulumi.Output<string>;
  /** Every trial's runs and the sweep's own objects. */
  readonly artifactBucket: ArtifactBucket;
  /** Its name: with {@link sweepId}, what `yolo-train sweep status|leaderboard` read. */
  readonly artifactBucketName: pulumi.Output<string>;
  /** The keeper's Lambda function (its rounds are in its log group). */
  readonly keeperFunctionName: pulumi.Output<string>;
  /** The topic every trial's alarms, the keeper's alarm and the budgets report to. */
  readonly alertTopicArn: pulumi.Output<string>;
  /** The trials, in the sweep's order. */
  readonly trials: readonly TrainingRun[];
  /** `{ trialId, runId, groupName }` of every trial, in order. */
  readonly trialOutputs: pulumi.Output<SweepTrialOutput[]>;
  /** `sweeps/<sweepId>/sweep.json`. */
  readonly manifestKey: string;
  readonly manifest: aws.s3.BucketObjectv2;
  readonly keeper: SweepKeeper;
  /** The AWS Budget over the sweep's tag for `plan.budgetUsd`; undefined without one. */
  readonly budget: aws.budgets.Budget | undefined;
  /** The monthly AWS Budget over the sweep's tag for the base config's `budgetUsd`; undefined without one. */
  readonly monthlyBudget: aws.budgets.Budget | undefined;
  readonly dashboardName: pulumi.Output<string>;
  readonly dashboardUrl: pulumi.Output<string>;

  constructor(name: string, args: SweepArgs, opts?: pulumi.ComponentResourceOptions) {
    const identity = { project: pulumi.getProject(), stack: pulumi.getStack() };
    const problems = new ProblemList();
    for (const p of sweepArgsProblems(name, args, identity)) problems.add(p);
    problems.throwIfAny(`Sweep "${name}"`);

    const plan = args.plan;
    const base = plan.base;
    const sweepId = deriveSweepId({
      runIds: plan.trials.map((t) => t.runId),
      metric: plan.metric,
      direction: plan.direction,
      rungs: plan.asha ? [...plan.asha.rungs] : null,
      reductionFactor: plan.asha ? plan.asha.reductionFactor : null,
    });
    const estimate = estimateSweep(plan);
    const naming = sweepTrialNaming(name, identity, plan.trials.map((t) => t.id));

    super("yolo-train:sweep:Sweep", name, {}, opts);
    this.sweepId = sweepId;
    this.plan = plan;
    this.estimate = estimate;
    this.naming = naming;
    const parent = { parent: this };
    const scoped = stackScopedName(name, identity);
    const tags: Record<string, string> = {
      "yolo-train:project": base.project,
      "yolo-train:stack": physicalName(NAME_RULES.tagValue, scoped),
      [SWEEP_TAG_KEY]: sweepId,
    };

    // Shared parts: the fleet's, else one of each for the whole sweep, as the base config says.
    const fleet = args.fleet ?? {};
    this.ownNetwork = fleet.network
      ? undefined
      : new Network(`${name}-network`, base.network ? { vpcId: base.network.vpcId, subnetIds: [...base.network.subnetIds], tags } : { tags }, parent);
    this.ownImage = fleet.image ? undefined : new TrainingImage(`${name}-image`, { ...trainingImageArgsOf(base, args.dockerContext), tags }, parent);
    this.ownDatasetBucket = fleet.datasetBucket ? undefined : new DatasetBucket(`${name}-datasets`, { tags }, parent);
    this.otaBucket = fleet.ota || base.ota.shared ? undefined : new OtaBucket(`${name}-ota`, { tags }, parent);
    this.parts = {
      network: fleet.network ?? this.ownNetwork!,
      image: fleet.image ?? this.ownImage!,
      datasetBucket: fleet.datasetBucket ?? this.ownDatasetBucket!,
      ota: fleet.ota ?? this.otaBucket ?? sharedOtaPart(base.ota.shared!),
      ...(fleet.costTagValue !== undefined ? { costTagValue: fleet.costTagValue } : {}),
    };
    this.artifactBucket = new ArtifactBucket(`${name}-artifacts`, { tags }, parent);
    this.artifactBucketName = this.artifactBucket.bucketName;

    const { topic, policy: topicPolicy } = alertTopic(name, tags, parent);
    if (base.alertEmail !== undefined) subscribeAlertEmail(name, topic.arn, base.alertEmail, parent);
    this.alertTopicArn = topic.arn;

    this.trials = plan.trials.map((trial) => {
      const run = new TrainingRun(
        naming.trialName(trial.id),
        {
          config: trialRunConfig(trial.config),
          fleet: this.parts,
          artifactBucket: this.artifactBucket,
          ...(args.wandbApiKey !== undefined ? { wandbApiKey: args.wandbApiKey } : {}),
          ...(args.launchTime ? { launchTime: args.launchTime } : {}),
          sweep: {
            sweepId,
            trialId: trial.id,
            metric: plan.metric,
            direction: plan.direction,
            ...earlyStoppingOf(plan, trial),
            alertTopicArn: topic.arn,
          },
        },
        parent,
      );
      // The trial's shared parts left its run id alone: the manifest and the keeper name that run.
      if (run.runId !== trial.runId) throw new Error(`Sweep "${name}": trial ${trial.id} deployed as run ${run.runId}, not ${trial.runId}; please report this as a bug`);
      return run;
    });
    const first = this.trials[0]!;
    this.ota = first.ota;
    this.otaPrefix = first.otaPrefix;
    this.trialOutputs = pulumi.all(this.trials.map((run) => run.nodeGroup.groupName)).apply((groups) =>
      plan.trials.map((trial, i) => ({ trialId: trial.id, runId: trial.runId, groupName: groups[i]! })),
    );

    this.manifestKey = sweepManifestKey(sweepId);
    const manifestBody = pulumi
      .all([
        this.artifactBucket.bucketName,
        this.ota.bucketName,
        this.ota.signingKeyArn,
        this.otaPrefix,
        pulumi.all(this.trials.map((run) => run.nodeGroup.groupName)),
        pulumi.all(this.trials.map((run) => run.guardrails.backstopScheduleName)),
      ])
      .apply(([artifactBucket, otaBucket, signingKeyId, otaPrefix, groups, schedules]) =>
        sweepManifestJson({
          sweepId,
          artifactBucket,
          sweep: plan,
          ota: {
            bucket: otaBucket,
            prefix: otaPrefix,
            modelName: base.ota.modelName,
            channel: base.ota.channel,
            signingKeyId,
            ...(base.ota.promote ? { promote: base.ota.promote } : {}),
          },
          trials: plan.trials.map((trial, i) => ({
            trial,
            groupName: groups[i]!,
            backstopScheduleName: schedules[i]!,
            usdPerHour: this.trials[i]!.estimate.capacityRates.chosen.usdPerHour,
            estimatedUsd: this.trials[i]!.estimate.cost?.estimatedUsd ?? null,
          })),
        }),
      );
    this.manifest = new aws.s3.BucketObjectv2(
      `${name}-manifest`,
      { bucket: this.artifactBucket.bucketName, key: this.manifestKey, content: manifestBody, contentType: "application/json", tags },
      parent,
    );

    this.keeper = new SweepKeeper(
      `${name}-keeper`,
      {
        sweepId,
        artifactBucket: this.artifactBucket,
        backstopNamePattern: naming.backstopNamePattern,
        ota: { bucketArn: this.ota.bucketArn, prefix: this.otaPrefix, signingKeyArn: this.ota.signingKeyArn },
        ...(args.keeperEveryMinutes !== undefined ? { everyMinutes: args.keeperEveryMinutes } : {}),
        alertTopicArn: topic.arn,
        runAfter: [this.manifest],
        tags,
      },
      parent,
    );

    this.keeperFunctionName = this.keeper.functionName;

    const sweepTag = { key: SWEEP_TAG_KEY, value: sweepId };
    const budget = (suffix: string, usd: number): aws.budgets.Budget =>
      new aws.budgets.Budget(
        autoName(NAME_RULES.budget, `${name}-${suffix}`),
        { ...monthlyTagBudget(usd, sweepTag), notifications: topic.arn.apply((arn) => budgetNotifications(arn, base.alertEmail)), tags },
        // Budgets checks it may publish to the topic when the notification is created.
        { parent: this, dependsOn: [topicPolicy] },
      );
    this.budget = plan.budgetUsd !== undefined ? budget("budget", plan.budgetUsd) : undefined;
    this.monthlyBudget = base.budgetUsd !== undefined ? budget("monthly-budget", base.budgetUsd) : undefined;

    const region = aws.getRegionOutput({}, parent).region;
    const title = `yolo-train ${identity.project}/${identity.stack} sweep ${sweepId}`;
    const body = pulumi
      .all([
        region,
        pulumi.all(this.trials.map((run) => pulumi.all([run.nodeGroup.groupName, run.nodeGroup.logGroupName, run.guardrails.idleAlarmArn, run.guardrails.starvedAlarmArn]))),
        this.keeper.failureAlarmArn,
        this.keeper.logGroupName,
      ])
      .apply(([r, trialParts, keeperAlarm, keeperLogGroup]) =>
        renderSweepDashboardBody({
          region: r,
          title,
          metric: plan.metric,
          direction: plan.direction,
          trials: plan.trials.map((trial, i) => {
            const [groupName, logGroupName, idle, starved] = trialParts[i]!;
            return { trialId: trial.id, runId: trial.runId, groupName, logGroupName, params: trial.params, alarmArns: [idle, starved] };
          }),
          keeperAlarmArns: [keeperAlarm],
          keeperLogGroupName: keeperLogGroup,
        }),
      );
    const dashboard = new aws.cloudwatch.Dashboard(`${name}-dashboard`, { dashboardName: physicalName(NAME_RULES.dashboard, `${scoped}-sweep`), dashboardBody: body }, parent);
    this.dashboardName = dashboard.dashboardName;
    this.dashboardUrl = pulumi.all([region, dashboard.dashboardName]).apply(([r, n]) => dashboardUrl(r, n));

    this.registerOutputs({
      sweepId,
      artifactBucketName: this.artifactBucketName,
      trials: this.trialOutputs,
      manifestKey: this.manifestKey,
      keeperFunctionName: this.keeperFunctionName,
      alertTopicArn: this.alertTopicArn,
      dashboardUrl: this.dashboardUrl,
      // Registered so a shared signing key that cannot sign fails the deployment of any program.
      otaPublicKeyPem: this.ota.publicKeyPem,
    });
  }
}

/**
 * A trial's config as its `TrainingRun` takes it: the shared parts (network, image, shared OTA
 * bucket) are the sweep's to give once, so the trial's config does not name them again. None of
 * them is part of the run id (runspec/runId.ts), which the sweep checks stays the same.
 */
export function trialRunConfig(config: ExperimentConfig): ExperimentConfig {
  const { network: _network, image: _image, ota, ...rest } = config;
  const { shared: _shared, ...ownOta } = ota;
  return Object.freeze({ ...rest, ota: Object.freeze(ownOta) });
}

/** The run spec's early stopping of a trial: ASHA's rungs below its own epochs (a trial that ends before a rung simply ends). */
function earlyStoppingOf(plan: SweepPlanInput, trial: SweepTrial): { earlyStopping?: { reductionFactor: number; rungs: number[] } } {
  if (plan.asha === undefined) return {};
  const rungs = plan.asha.rungs.filter((epoch) => epoch < trial.config.epochs);
  return rungs.length === 0 ? {} : { earlyStopping: { reductionFactor: plan.asha.reductionFactor, rungs } };
}

