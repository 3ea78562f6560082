import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { estimateExperiment, type ExperimentEstimate } from "../../catalog/experimentEstimate";
import { ProblemList, type Problem } from "../../runspec/problems";
import type { DeferredExperimentInputs, ExperimentConfig, ParsedExperimentInput } from "../../config/types";
import { deferredImagePart, deferredNetworkArgs, deferredOtaPart } from "./deferredParts";
import { buildRunSpec, deriveRunId } from "../../runspec";
import { ArtifactBucket } from "../storage/artifactBucket";
import { datasetPrefix, runPrefix } from "../../runspec/bucketLayout";
import { DatasetBucket } from "../storage/datasetBucket";
import { FLEET_COST_TAG_KEY } from "../fleet/fleet";
import type { DatasetBucketPart, FleetParts, ImagePart, NetworkPart, OtaPart } from "../fleet/fleetParts";
import { grantDatasetRead, grantImagePull, type Grantee } from "../iam/grants";
import { initialWeightsStatements, parameterReadStatements, sweepRungStatements } from "../iam/grantStatements";
import { GpuNodeGroup, type GpuNodeDatasetMount } from "../compute/gpuNodeGroup";
import { Guardrails } from "../guardrails/guardrails";
import { timestampFailureAlarmSpec } from "../ota/otaTimestampPolicies";
import { LustreDataset } from "../storage/lustreDataset";
import { Network } from "../network/network";
import { NodeRole } from "../compute/nodeRole";
import { OtaBucket } from "../ota/otaBucket";
import { otaDestination, sharedOtaPart, type OtaDestination } from "../ota/otaDestination";
import { RunDashboard } from "../observability/runDashboard";
import { autoName, NAME_RULES } from "../naming/physicalNames";
import { TrainingImage, trainingImageProblems } from "../image/trainingImage";
import { trainingImageArgsOf } from "../image/trainingImageArgs";
import { runNameProblems, runResourceNames, type RunResourceNames } from "./trainingRunNames";
import { parseArn } from "../../runspec/awsPatterns";
import { RUN_ID_PATTERN, type RunSpecSweep } from "../../runspec/schema";
import { METRIC_NAME_PATTERN, METRIC_NAME_RULE } from "../../runspec/metrics";
import { SWEEP_TAG_KEY, TRIAL_TAG_KEY } from "../sweep/sweepTags";

export type { OtaDestination };

export interface TrainingRunArgs {
  /**
   * The validated experiment: from `loadExperimentConfig()` or `parseExperimentConfig()`, or what
   * `parseExperimentInput()` returns when `network`, `image`, the shared OTA bucket or
   * `alertEmail` are outputs (each is checked, with the same messages, once known).
   */
  readonly config: ExperimentConfig | ParsedExperimentInput;
  /**
   * The Weights & Biases API key when `config.tracking` is W&B. Kept in an SSM SecureString
   * parameter that only the node role may read; never in user data, the run spec or logs.
   * @default none (required when tracking is W&B)
   */
  readonly wandbApiKey?: pulumi.Input<string>;
  /**
   * When the run starts, for the max-runtime backstop (`launchTime + maxRuntimeHours`).
   * @default now, when the program runs
   */
  readonly launchTime?: Date;
  /**
   * Docker build context of the training image, when `config.image` is not set: the package root
   * (installed or a checkout), with `docker/Dockerfile` and the root `.dockerignore`.
   * @default the package root (see `TrainingImageArgs.context`)
   */
  readonly dockerContext?: string;
  /**
   * The shared parts of a {@link Fleet} (the fleet itself, or `Fleet.fromStackReference`): the run
   * uses its network, image, dataset bucket and OTA bucket instead of creating its own, and tags
   * its GPU instances for the fleet's budget.
   * @default none: the run creates every part it needs
   */
  readonly fleet?: FleetParts;
  /**
   * The network to launch GPU nodes into (a `Network`, or its ids); replaces the fleet's.
   * @default the fleet's, else config `network`, else a new VPC
   */
  readonly network?: NetworkPart;
  /**
   * The training image (a `TrainingImage`, or a URI and repository); replaces the fleet's.
   * @default the fleet's, else config `image`, else a build of `dockerContext`
   */
  readonly image?: ImagePart;
  /**
   * The bucket `data: dataset:<name>` reads from (a `DatasetBucket`, or its name and ARN); replaces the fleet's.
   * @default the fleet's, else a new one
   */
  readonly datasetBucket?: DatasetBucketPart;
  /**
   * Where releases are published and signed (an `OtaBucket`, or its bucket and release key); replaces the fleet's.
   * @default the fleet's, else config `ota.shared`, else a new `OtaBucket` with its keys
   */
  readonly ota?: OtaPart;
  /**
   * The artifact bucket to keep the run's checkpoints, record and model in (under
   * `runs/<runId>/`), instead of a bucket of the run's own: a sweep's, shared by its trials. The
   * node role is still granted the run's own prefix only.
   * @default a new `ArtifactBucket` of the run's own
   */
  readonly artifactBucket?: ArtifactBucket;
  /**
   * Makes the run a trial of a sweep (issue 12; the `Sweep` component sets it). The trial's node
   * group is created **empty** (desired capacity 0, max 1): the sweep's keeper gives it capacity
   * when its turn comes, and moves its max-runtime backstop then. Every child is tagged
   * `yolo-train:sweep = <sweepId>` (the keeper may set the capacity of groups with its own sweep's
   * tag only) and `yolo-train:trial = <trialId>`. The trial gets no dashboard of its own (the
   * sweep has one; a dashboard costs $3 a month past the account's free three) and no AWS Budget
   * (`config.budgetUsd` is the sweep's to apply, over the sweep's tag). Its node role gets no
   * right to publish or sign releases: a trial's model stays in the artifact bucket, and the
   * sweep's keeper releases the winner.
   * @default none: an ordinary run, started at once
   */
  readonly sweep?: TrainingRunSweep;
}

/** A sweep trial's settings (see {@link TrainingRunArgs.sweep}). */
export interface TrainingRunSweep {
  /** The sweep's id (`deriveSweepId`, runspec/sweep/sweepManifest.ts): the value of the `yolo-train:sweep` tag, and the prefix `sweeps/<sweepId>/` of its rung records. */
  readonly sweepId: string;
  /** The trial's id in the sweep: `t01` …. */
  readonly trialId: string;
  /** The metric the sweep ranks its trials by, as ultralytics reports it (`metrics/mAP50-95(B)`). */
  readonly metric: string;
  readonly direction: "maximize" | "minimize";
  /**
   * ASHA early stopping, passed to the run spec's `sweep` section with the ids and the metric: the
   * agent records `metric` at each rung epoch (each below the trial's epochs, strictly increasing)
   * and stops the trial outside the best 1/`reductionFactor`. The node role may then read and write
   * the sweep's rung records (`sweeps/<sweepId>/`, `sweepRungStatements`), nothing else of the sweep.
   * @default none: the trial trains to its end (its run spec's sweep section has no rungs), and its role gets nothing under `sweeps/`
   */
  readonly earlyStopping?: { readonly reductionFactor: number; readonly rungs: readonly number[] };
  /**
   * The sweep's SNS topic: the trial's guardrail alarms report there rather than to a topic of
   * their own (one email subscription for the whole sweep); `config.alertEmail` is then the
   * topic owner's to subscribe.
   * @default a topic of the trial's own, with `config.alertEmail` subscribed
   */
  readonly alertTopicArn?: pulumi.Input<string>;
}

/**
 * One training experiment on AWS: network, buckets, the OTA keys (release, root, timestamp) and
 * timestamp function, image, GPU node group, guardrails and dashboard, composed from the other
 * components of this package. The node role may sign with the release key only: never with the
 * root key (an administrator's) nor the timestamp key (the timestamp function's).
 *
 * The run id derives from the training spec, so a second `pulumi up` of the same spec keeps
 * the same group (which has scaled itself to zero once done) and does not retrain; a changed
 * spec is a new run with a new group.
 *
 * Every physical name fits AWS's rules for any project, stack and component name (Pulumi allows
 * 100-character stack names with upper case): names are shortened with a stable hash where they
 * must be, and the account-wide ones (group, log group, dashboard, parameter, key aliases) carry
 * the project and stack. Every name is derived, and every argument the run hands its children is
 * checked, before the first resource is registered.
 *
 * @example
 * // index.ts of a Pulumi TypeScript program: one experiment, its config read from the stack.
 * import * as pulumi from "@pulumi/pulumi";
 * import { TrainingRun } from "yolo-train";
 * import { loadExperimentConfig } from "yolo-train/config";
 *
 * const { config, secrets } = loadExperimentConfig(); // every problem at once, nothing created
 * const run = new TrainingRun(`${pulumi.getProject()}-${pulumi.getStack()}`, {
 *   config,
 *   ...(secrets.wandbApiKey ? { wandbApiKey: secrets.wandbApiKey } : {}),
 * });
 * export const runId = run.runId;
 * export const otaRootPublicKeyPem = run.otaBucket?.rootPublicKeyPem; // what edge boxes pin
 */
export class TrainingRun extends pulumi.ComponentResource {
  readonly runId: string;
  readonly names: RunResourceNames;
  readonly estimate: ExperimentEstimate;
  /** Where the GPU nodes launch: {@link ownNetwork}, or the fleet's or given network. */
  readonly network: ResolvedNetwork;
  /** The VPC and security group this run created; undefined when it uses a fleet's or a given network. */
  readonly ownNetwork: Network | undefined;
  /** The bucket `dataset:<name>` data is read from: {@link ownDatasetBucket}, or the fleet's or given one. */
  readonly datasetBucket: ResolvedDatasetBucket;
  /** The dataset bucket this run created; undefined when it uses a fleet's or a given one. */
  readonly ownDatasetBucket: DatasetBucket | undefined;
  readonly artifactBucket: ArtifactBucket;
  /**
   * This run's own OTA bucket, its release, root and timestamp keys and its timestamp function;
   * undefined when the run publishes to a fleet's, a given or a shared (`config.ota.shared`) one.
   */
  readonly otaBucket: OtaBucket | undefined;
  /** Where releases go: {@link otaBucket}, or the fleet's, given or shared bucket and key. */
  readonly ota: OtaDestination;
  /** The image the nodes run: {@link ownImage}, or the fleet's or given one. */
  readonly image: ResolvedImage;
  /** The image this run built (or named, with config `image`); undefined when it uses a fleet's or a given one. */
  readonly ownImage: TrainingImage | undefined;
  /** The GPU nodes' role: the sum of the grants this run makes. */
  readonly nodeRole: NodeRole;
  readonly nodeGroup: GpuNodeGroup;
  readonly guardrails: Guardrails;
  /** The sweep this run is a trial of (`args.sweep`); undefined for an ordinary run. */
  readonly sweep: TrainingRunSweep | undefined;
  /** Alarm on the OTA timestamp function's failed runs, to the guardrails' alert topic; undefined unless this run owns its OTA bucket. */
  readonly timestampFailureAlarm: aws.cloudwatch.MetricAlarm | undefined;
  /** The run's dashboard; undefined for a sweep trial (the sweep's dashboard shows it). */
  readonly dashboard: RunDashboard | undefined;
  readonly lustre: LustreDataset | undefined;
  /** `runs/<runId>/` in the artifact bucket: checkpoints, run record, exported model. */
  readonly artifactPrefix: string;
  /** `<modelsPrefix><modelName>/` in the OTA bucket, e.g. `models/widgets/`. */
  readonly otaPrefix: pulumi.Output<string>;
  private readonly experiment: ExperimentConfig;

  constructor(name: string, args: TrainingRunArgs, opts?: pulumi.ComponentResourceOptions) {
    const { config, deferred } = experimentOf(args.config);
    // Pure work first: a config the catalog cannot price fails here, before any resource.
    const runId = deriveRunId(config);
    const estimate = estimateExperiment(config);
    const identity = { project: pulumi.getProject(), stack: pulumi.getStack() };
    const names = runResourceNames(name, runId, identity);
    if (config.tracking.kind === "wandb" && args.wandbApiKey === undefined) {
      throw new Error("TrainingRun.wandbApiKey is required when tracking is W&B (tracking.wandbApiKey, a secret)");
    }
    const parts = chosenParts(args);
    // Children refuse bad arguments only once their siblings exist: refuse them here, before any.
    const imageArgs = trainingImageArgsOf(config, args.dockerContext);
    const configImage = deferred.image !== undefined ? deferredImagePart(deferred.image) : undefined;
    const problems = new ProblemList();
    for (const p of runNameProblems(names, identity)) problems.add(p);
    for (const p of trainingRunPartConflicts(args, config, deferred, parts)) problems.add(p);
    for (const p of sweepTrialProblems(args.sweep, config)) problems.add(p);
    if (!parts.image && !configImage) {
      for (const p of trainingImageProblems(imageArgs)) {
        problems.add(p.key === "TrainingImage.context" ? { ...p, key: "TrainingRun.dockerContext" } : p);
      }
    }
    problems.throwIfAny(`TrainingRun "${name}"`);

    super("yolo-train:run:TrainingRun", name, {}, opts);
    this.experiment = config;
    this.runId = runId;
    this.names = names;
    this.estimate = estimate;
    this.sweep = args.sweep;
    const parent = { parent: this };
    const tags: Record<string, string> = {
      "yolo-train:project": config.project,
      "yolo-train:stack": names.costAllocationValue,
      "yolo-train:run-id": runId,
      ...(args.sweep ? { [SWEEP_TAG_KEY]: args.sweep.sweepId, [TRIAL_TAG_KEY]: args.sweep.trialId } : {}),
    };

    this.ownNetwork = parts.network
      ? undefined
      : new Network(
          `${name}-network`,
          config.network
            ? { vpcId: config.network.vpcId, subnetIds: [...config.network.subnetIds], tags }
            : deferred.network
              ? { ...deferredNetworkArgs(deferred.network), tags }
              : { tags },
          parent,
        );
    this.network = resolvedNetwork(parts.network ?? this.ownNetwork!);
    this.ownDatasetBucket = parts.datasetBucket ? undefined : new DatasetBucket(`${name}-datasets`, { tags }, parent);
    this.datasetBucket = resolvedDatasetBucket(parts.datasetBucket ?? this.ownDatasetBucket!);
    this.artifactBucket = args.artifactBucket ?? new ArtifactBucket(`${name}-artifacts`, { tags }, parent);
    this.otaBucket = parts.ota || config.ota.shared || deferred.otaShared ? undefined : new OtaBucket(`${name}-ota`, { tags }, parent);
    this.ota = this.otaDestinationOf(parts.ota ?? (deferred.otaShared ? deferredOtaPart(deferred.otaShared, config.region) : undefined), parts.ota !== undefined);
    this.ownImage = parts.image || configImage ? undefined : new TrainingImage(`${name}-image`, { ...imageArgs, tags }, parent);
    this.image = resolvedImage(parts.image ?? configImage ?? this.ownImage!);
    this.artifactPrefix = runPrefix(runId);
    this.otaPrefix = this.ota.modelsPrefix.apply((prefix) => `${prefix}${config.ota.modelName}/`);

    const wandbParameter =
      config.tracking.kind === "wandb"
        ? new aws.ssm.Parameter(
            `${name}-wandb-api-key`,
            {
              name: names.wandbParameterName,
              type: "SecureString",
              value: pulumi.secret(args.wandbApiKey!),
              description: "Weights & Biases API key of this stack's training runs",
              tags,
            },
            parent,
          )
        : undefined;

    const dataset = this.datasetLocation();
    this.lustre =
      config.datasetMount === "fsx-lustre" && dataset
        ? new LustreDataset(
            `${name}-lustre`,
            {
              bucketName: dataset.bucketName,
              prefix: dataset.prefix,
              subnetId: this.network.subnetIds.apply((ids) => ids[0]!),
              vpcId: this.network.vpcId,
              nodeSecurityGroupId: this.network.nodeSecurityGroupId,
              tags,
            },
            parent,
          )
        : undefined;

    // Every trial carries the section, rungs or not: it is what tells the agent the sweep releases the model.
    const early = args.sweep?.earlyStopping;
    const runSpecSweep: RunSpecSweep | undefined = args.sweep
      ? {
          sweepId: args.sweep.sweepId,
          trialId: args.sweep.trialId,
          metric: args.sweep.metric,
          direction: args.sweep.direction,
          reductionFactor: early ? early.reductionFactor : null,
          rungs: early ? [...early.rungs] : [],
        }
      : undefined;
    const runSpec = pulumi
      .all([
        this.artifactBucket.bucketName,
        this.ota.bucketName,
        this.ota.signingKeyArn,
        this.otaPrefix,
        wandbParameter?.name ?? pulumi.output(undefined),
      ])
      .apply(([artifactBucket, otaBucket, signingKeyId, otaPrefix, wandbApiKeyParameter]) =>
        buildRunSpec(runSpecSweep ? { ...config, sweep: runSpecSweep } : config, {
          runId,
          autoScalingGroupName: names.groupName,
          artifactBucket,
          otaBucket,
          otaPrefix,
          signingKeyId,
          usdPerHour: estimate.capacityRates.chosen.usdPerHour,
          ...(wandbApiKeyParameter ? { wandbApiKeyParameter } : {}),
        }),
      );

    // The node role's policy is the sum of what each resource grants it, nothing more.
    this.nodeRole = new NodeRole(`${name}-gpu-role`, { description: `yolo-train GPU node of ${names.groupName}`, tags }, parent);
    this.grantNodeAccess(this.nodeRole, dataset, wandbParameter);
    if (runSpecSweep && runSpecSweep.rungs.length > 0) {
      const sweepId = runSpecSweep.sweepId;
      this.nodeRole.addToPolicy(this.artifactBucket.bucketArn.apply((arn) => sweepRungStatements(arn, sweepId)));
    }

    this.nodeGroup = new GpuNodeGroup(
      `${name}-gpu`,
      {
        groupName: names.groupName,
        instanceTypes: config.instanceTypes,
        capacity: config.capacity,
        ...(config.maxSpotPrice !== undefined ? { maxSpotPrice: config.maxSpotPrice } : {}),
        // FSx for Lustre lives in one subnet; nodes elsewhere would pay cross-AZ traffic.
        subnetIds: this.lustre ? [this.lustre.subnetId] : this.network.subnetIds,
        securityGroupIds: [this.network.nodeSecurityGroupId],
        imageUri: this.image.imageUri,
        runSpec,
        datasetMount: this.datasetMount(dataset),
        role: this.nodeRole,
        // A sweep trial waits at 0 until the sweep's keeper gives it capacity.
        ...(args.sweep ? { initialCapacity: 0 } : {}),
        tags,
        ...(parts.costTagValue !== undefined
          ? { instanceTags: pulumi.output(parts.costTagValue).apply((value) => ({ [FLEET_COST_TAG_KEY]: value })) }
          : {}),
      },
      parent,
    );

    this.guardrails = new Guardrails(
      `${name}-guardrails`,
      {
        groupName: this.nodeGroup.groupName,
        groupArn: this.nodeGroup.groupArn,
        idleMinutes: config.idleMinutes,
        idleGpuPercent: config.idleGpuPercent,
        maxRuntimeHours: config.maxRuntimeHours,
        ...(args.launchTime ? { launchTime: args.launchTime } : {}),
        // A sweep's budget is the sweep's, over its tag: none per trial.
        ...(config.budgetUsd !== undefined && !args.sweep ? { budgetUsd: config.budgetUsd } : {}),
        ...(args.sweep?.alertTopicArn !== undefined
          ? { alertTopicArn: args.sweep.alertTopicArn }
          : config.alertEmail !== undefined
            ? { alertEmail: config.alertEmail }
            : deferred.alertEmail !== undefined
              ? { alertEmail: deferred.alertEmail }
              : {}),
        costAllocationTag: { key: "yolo-train:stack", value: names.costAllocationValue },
        tags,
      },
      parent,
    );

    // Boxes pinned to the root key call the view stale a day after refreshes stop: say so within the hour.
    this.timestampFailureAlarm = this.otaBucket
      ? new aws.cloudwatch.MetricAlarm(
          autoName(NAME_RULES.metricAlarm, `${name}-ota-timestamp-failed`),
          { ...timestampFailureAlarmSpec(this.otaBucket.timestampFunctionName), alarmActions: [this.guardrails.alertTopicArn], tags },
          // With the guardrails' other alarms on the same topic.
          { parent: this.guardrails },
        )
      : undefined;

    // A sweep's trials share the sweep's dashboard.
    this.dashboard = args.sweep
      ? undefined
      : new RunDashboard(
          `${name}-dashboard`,
          {
            autoScalingGroupName: this.nodeGroup.groupName,
            logGroupName: this.nodeGroup.logGroupName,
            alarmArns: [this.guardrails.idleAlarmArn, this.guardrails.starvedAlarmArn],
            runId,
            dashboardName: names.dashboardName,
            idleGpuPercent: config.idleGpuPercent,
          },
          parent,
        );

    this.registerOutputs({
      runId,
      imageUri: this.image.imageUri,
      groupName: this.nodeGroup.groupName,
      dashboardUrl: this.dashboard?.dashboardUrl,
      // Registered so a shared signing key that cannot sign fails the deployment of any program.
      otaPublicKeyPem: this.ota.publicKeyPem,
    });
  }

  /** The bucket and prefix the node mounts at /data; undefined for built-in datasets. */
  private datasetLocation(): DatasetLocation | undefined {
    const source = this.experiment.dataSource;
    switch (source.kind) {
      case "builtin":
        return undefined;
      case "s3":
        // Mountpoint's --prefix and the IAM prefix both want "" or a prefix ending in "/".
        return {
          bucketName: source.bucket,
          bucketArn: this.ota.bucketArn.apply((arn) => `arn:${parseArn(arn).partition}:s3:::${source.bucket}`),
          prefix: source.prefix === "" || source.prefix.endsWith("/") ? source.prefix : `${source.prefix}/`,
        };
      case "dataset-bucket":
        return {
          bucketName: this.datasetBucket.bucketName,
          bucketArn: this.datasetBucket.bucketArn,
          kmsKeyArn: this.datasetBucket.kmsKeyArn,
          prefix: datasetPrefix(source.name),
        };
    }
  }

  private datasetMount(dataset: DatasetLocation | undefined): GpuNodeDatasetMount {
    if (!dataset) return { kind: "none" };
    if (this.lustre) return { kind: "fsx-lustre", dnsName: this.lustre.dnsName, mountName: this.lustre.mountName };
    const mount = this.experiment.datasetMount;
    return { kind: mount === "copy" ? "copy" : "mountpoint", bucketName: dataset.bucketName, prefix: dataset.prefix };
  }

  /** What the run's nodes may touch, granted by each resource: least privilege, scoped to this run. */
  private grantNodeAccess(role: Grantee, dataset: DatasetLocation | undefined, wandbParameter: aws.ssm.Parameter | undefined): void {
    const config = this.experiment;
    if (dataset) grantDatasetRead(role, dataset, dataset.prefix);
    this.artifactBucket.grantReadWrite(role, this.artifactPrefix);
    // A sweep trial never releases its own model (the sweep's keeper releases the winner): no OTA rights.
    if (!this.sweep) {
      this.ota.grantWrite(role, this.otaPrefix);
      this.ota.grantSign(role);
    }
    this.image.grantPull(role);
    if (wandbParameter) role.addToPolicy(wandbParameter.arn.apply(parameterReadStatements));
    if (config.modelSource.kind === "s3") {
      const { bucket, key } = config.modelSource;
      role.addToPolicy(this.ota.bucketArn.apply((arn) => initialWeightsStatements(`arn:${parseArn(arn).partition}:s3:::${bucket}/${key}`)));
    }
  }

  private otaDestinationOf(part: OtaPart | undefined, fromProgram: boolean): OtaDestination {
    if (part) return otaDestination(part, true, fromProgram ? "TrainingRun.ota.signingKeyArn" : "ota.signingKeyArn", this);
    if (this.otaBucket) return otaDestination(this.otaBucket, false, "OtaBucket.signingKeyArn", this);
    return otaDestination(sharedOtaPart(this.experiment.ota.shared!), true, "ota.signingKeyArn", this);
  }
}

/** A dataset's bucket and prefix as the node reads it. */
interface DatasetLocation {
  readonly bucketName: pulumi.Input<string>;
  readonly bucketArn: pulumi.Input<string>;
  readonly kmsKeyArn?: pulumi.Input<string | undefined>;
  readonly prefix: string;
}

/** A run's network, whoever owns it, as outputs. */
export interface ResolvedNetwork {
  readonly vpcId: pulumi.Output<string>;
  readonly subnetIds: pulumi.Output<string[]>;
  readonly nodeSecurityGroupId: pulumi.Output<string>;
}

/** A run's image, whoever built it, as outputs; `grantPull` grants pulls from its repository, if any. */
export interface ResolvedImage {
  readonly imageUri: pulumi.Output<string>;
  readonly repositoryArn: pulumi.Output<string | undefined>;
  grantPull(grantee: Grantee): void;
}

/** A run's dataset bucket, whoever owns it, as outputs. */
export interface ResolvedDatasetBucket {
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  readonly kmsKeyArn: pulumi.Output<string | undefined>;
}

function resolvedNetwork(part: NetworkPart): ResolvedNetwork {
  return {
    vpcId: pulumi.output(part.vpcId),
    subnetIds: pulumi.output(part.subnetIds) as pulumi.Output<string[]>,
    nodeSecurityGroupId: pulumi.output(part.nodeSecurityGroupId),
  };
}

function resolvedImage(part: ImagePart): ResolvedImage {
  const repositoryArn = pulumi.output(part.repositoryArn).apply((arn) => arn || undefined);
  return { imageUri: pulumi.output(part.imageUri), repositoryArn, grantPull: (grantee) => grantImagePull(grantee, repositoryArn) };
}

function resolvedDatasetBucket(part: DatasetBucketPart): ResolvedDatasetBucket {
  return {
    bucketName: pulumi.output(part.bucketName),
    bucketArn: pulumi.output(part.bucketArn),
    kmsKeyArn: pulumi.output(part.kmsKeyArn).apply((arn) => arn || undefined),
  };
}

/** Each shared part: the one given to the run, else its fleet's. */
function chosenParts(args: TrainingRunArgs): FleetParts {
  const network = args.network ?? args.fleet?.network;
  const image = args.image ?? args.fleet?.image;
  const datasetBucket = args.datasetBucket ?? args.fleet?.datasetBucket;
  const ota = args.ota ?? args.fleet?.ota;
  const costTagValue = args.fleet?.costTagValue;
  return {
    ...(network ? { network } : {}),
    ...(image ? { image } : {}),
    ...(datasetBucket ? { datasetBucket } : {}),
    ...(ota ? { ota } : {}),
    ...(costTagValue !== undefined ? { costTagValue } : {}),
  };
}

/**
 * A part the program gives (directly or through a fleet) that the stack config also names: which
 * one would win is a guess, so neither does. Keys are the stack config's (`network`, `image`,
 * `ota.bucket`) and `TrainingRun.dockerContext`; a caller composing runs (a `Sweep`) checks its
 * parts with this before creating any.
 */
export function trainingRunPartConflicts(
  args: Pick<TrainingRunArgs, "network" | "image" | "datasetBucket" | "ota" | "dockerContext">,
  config: ExperimentConfig,
  deferred: DeferredExperimentInputs,
  parts: FleetParts,
): Problem[] {
  const from = (part: "network" | "image" | "ota"): string => (args[part] !== undefined ? `TrainingRun.${part}` : `TrainingRun.fleet.${part}`);
  const shown = (plain: unknown, later: unknown): unknown => plain ?? (later !== undefined ? "(an output)" : undefined);
  const problems: Problem[] = [];
  if (parts.network && (config.network || deferred.network)) {
    problems.push({ key: "network", value: shown(config.network?.vpcId, deferred.network), allowed: `no network in the stack config when the program gives one (${from("network")})`, fix: "remove the network key from the stack config, or stop passing the network" });
  }
  if (parts.image && (config.image || deferred.image !== undefined)) {
    problems.push({ key: "image", value: shown(config.image, deferred.image), allowed: `no image in the stack config when the program gives one (${from("image")})`, fix: "remove the image key from the stack config, or stop passing the image" });
  }
  if (parts.ota && (config.ota.shared || deferred.otaShared)) {
    problems.push({ key: "ota.bucket", value: shown(config.ota.shared?.bucket, deferred.otaShared), allowed: `no shared OTA bucket in the stack config when the program gives one (${from("ota")})`, fix: "remove ota.bucket and ota.signingKeyArn from the stack config, or stop passing the OTA bucket" });
  }
  if ((parts.image || deferred.image !== undefined) && args.dockerContext !== undefined) {
    problems.push({ key: "TrainingRun.dockerContext", value: args.dockerContext, allowed: `nothing when the image is given (${parts.image ? from("image") : "image"}): nothing is built`, fix: "leave dockerContext out" });
  }
  return problems;
}

/** The experiment and the values of it that were outputs (none for a plain `ExperimentConfig`). */
function experimentOf(given: ExperimentConfig | ParsedExperimentInput): ParsedExperimentInput {
  return "deferred" in given && "config" in given ? given : { config: given, deferred: {} };
}

/**
 * Problems with a sweep trial's settings, before anything is created: ids the run spec takes (one
 * key segment each), and early stopping the agent can follow (whole, strictly increasing rung
 * epochs below the trial's epochs, η ≥ 2, a one-phase trial). Keys are `TrainingRun.sweep.<field>`.
 */
export function sweepTrialProblems(sweep: TrainingRunSweep | undefined, config: Pick<ExperimentConfig, "epochs" | "progressive">): Problem[] {
  if (sweep === undefined) return [];
  const problems: Problem[] = [];
  for (const field of ["sweepId", "trialId"] as const) {
    if (typeof sweep[field] !== "string" || !RUN_ID_PATTERN.test(sweep[field])) {
      problems.push({
        key: `TrainingRun.sweep.${field}`,
        value: sweep[field],
        allowed: "1-48 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (one key segment of the bucket layout)",
        fix: field === "sweepId" ? "derive it with deriveSweepId (runspec/sweep/sweepManifest.ts)" : "e.g. t01",
      });
    }
  }
  if (typeof sweep.metric !== "string" || !METRIC_NAME_PATTERN.test(sweep.metric)) {
    problems.push({ key: "TrainingRun.sweep.metric", value: sweep.metric, allowed: `a metric name that ${METRIC_NAME_RULE}`, fix: "e.g. metrics/mAP50-95(B)" });
  }
  if (sweep.direction !== "maximize" && sweep.direction !== "minimize") {
    problems.push({ key: "TrainingRun.sweep.direction", value: sweep.direction, allowed: '"maximize" or "minimize"', fix: "maximize for mAP, minimize for a loss" });
  }
  const early = sweep.earlyStopping;
  if (early === undefined) return problems;
  const rungs = early.rungs;
  const wholeIncreasing = Array.isArray(rungs) && rungs.length > 0 && rungs.every((epoch, i) => Number.isInteger(epoch) && epoch >= 1 && (i === 0 || epoch > rungs[i - 1]!));
  if (!wholeIncreasing || rungs.some((epoch) => epoch >= config.epochs)) {
    problems.push({
      key: "TrainingRun.sweep.earlyStopping.rungs",
      value: rungs,
      allowed: `whole, strictly increasing epochs from 1, each below the trial's epochs (${config.epochs}): the end of training is not a rung`,
      fix: "leave out the rungs at or past the trial's epochs, or earlyStopping altogether when none is left",
    });
  }
  if (!(typeof early.reductionFactor === "number" && early.reductionFactor >= 2)) {
    problems.push({ key: "TrainingRun.sweep.earlyStopping.reductionFactor", value: early.reductionFactor, allowed: "η, a number of at least 2", fix: "e.g. 3" });
  }
  if (config.progressive !== undefined) {
    problems.push({
      key: "TrainingRun.sweep.earlyStopping",
      value: "(set)",
      allowed: "not with progressive phases: a trial's rungs count the epochs of one phase",
      fix: "remove progressive from the trial's config, or early stopping from the sweep",
    });
  }
  return problems;
}
