import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { estimateExperiment, type ExperimentEstimate } from "../catalog/experimentEstimate";
import { ProblemList } from "../config/problems";
import type { ExperimentConfig, SharedOtaBucket } from "../config/types";
import { kmsSigningKeyProblem } from "../ota/signature";
import { buildRunSpec, deriveRunId } from "../runspec";
import { ArtifactBucket } from "./artifactBucket";
import { datasetPrefix, runPrefix } from "./bucketLayout";
import { DatasetBucket } from "./datasetBucket";
import { GpuNodeGroup, type GpuNodeAccess, type GpuNodeDatasetMount } from "./gpuNodeGroup";
import { Guardrails } from "./guardrails";
import { timestampFailureAlarmSpec } from "./otaTimestampPolicies";
import { LustreDataset } from "./lustreDataset";
import { Network } from "./network";
import { OtaBucket } from "./otaBucket";
import { RunDashboard } from "./runDashboard";
import { autoName, NAME_RULES } from "./physicalNames";
import { TrainingImage, trainingImageProblems, type TrainingImageArgs } from "./trainingImage";
import { runNameProblems, runResourceNames, type RunResourceNames } from "./trainingRunNames";

/** Where a run publishes its releases: its own {@link OtaBucket}, or a shared one (config `ota.bucket`). */
export interface OtaDestination {
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  /** Models live under this prefix (`models/`); this run's under `<modelsPrefix><modelName>/`. */
  readonly modelsPrefix: string;
  readonly signingKeyArn: pulumi.Output<string>;
  /** The signing key's public half (PEM): what edge devices pin. */
  readonly publicKeyPem: pulumi.Output<string>;
  /** True when another stack owns the bucket and the key: destroying this stack leaves them alone. */
  readonly shared: boolean;
}

export interface TrainingRunArgs {
  /** The validated experiment, from `loadExperimentConfig()` or `parseExperimentConfig()`. */
  readonly config: ExperimentConfig;
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
  readonly network: Network;
  readonly datasetBucket: DatasetBucket;
  readonly artifactBucket: ArtifactBucket;
  /**
   * This stack's own OTA bucket, its release, root and timestamp keys and its timestamp function;
   * undefined when `config.ota.shared` names another stack's (whose trust outputs then apply).
   */
  readonly otaBucket: OtaBucket | undefined;
  /** Where releases go: {@link otaBucket}, or the shared bucket and key of `config.ota.shared`. */
  readonly ota: OtaDestination;
  readonly image: TrainingImage;
  readonly nodeGroup: GpuNodeGroup;
  readonly guardrails: Guardrails;
  /** Alarm on the OTA timestamp function's failed runs, to the guardrails' alert topic; undefined with a shared OTA bucket (its stack watches it). */
  readonly timestampFailureAlarm: aws.cloudwatch.MetricAlarm | undefined;
  readonly dashboard: RunDashboard;
  readonly lustre: LustreDataset | undefined;
  /** `runs/<runId>/` in the artifact bucket: checkpoints, run record, exported model. */
  readonly artifactPrefix: string;
  /** `models/<modelName>/` in the OTA bucket. */
  readonly otaPrefix: string;
  private readonly experiment: ExperimentConfig;

  constructor(name: string, args: TrainingRunArgs, opts?: pulumi.ComponentResourceOptions) {
    const { config } = args;
    // Pure work first: a config the catalog cannot price fails here, before any resource.
    const runId = deriveRunId(config);
    const estimate = estimateExperiment(config);
    const identity = { project: pulumi.getProject(), stack: pulumi.getStack() };
    const names = runResourceNames(name, runId, identity);
    if (config.tracking.kind === "wandb" && args.wandbApiKey === undefined) {
      throw new Error("TrainingRun.wandbApiKey is required when tracking is W&B (tracking.wandbApiKey, a secret)");
    }
    // Children refuse bad arguments only once their siblings exist: refuse them here, before any.
    const imageArgs: TrainingImageArgs = config.image ? { existingImageUri: config.image } : { context: args.dockerContext };
    const problems = new ProblemList();
    for (const p of runNameProblems(names, identity)) problems.add(p);
    for (const p of trainingImageProblems(imageArgs)) {
      problems.add(p.key === "TrainingImage.context" ? { ...p, key: "TrainingRun.dockerContext" } : p);
    }
    problems.throwIfAny(`TrainingRun "${name}"`);

    super("yolo-train:run:TrainingRun", name, {}, opts);
    this.experiment = config;
    this.runId = runId;
    this.names = names;
    this.estimate = estimate;
    const parent = { parent: this };
    const tags = {
      "yolo-train:project": config.project,
      "yolo-train:stack": names.costAllocationValue,
      "yolo-train:run-id": runId,
    };

    this.network = new Network(
      `${name}-network`,
      config.network ? { vpcId: config.network.vpcId, subnetIds: [...config.network.subnetIds], tags } : { tags },
      parent,
    );
    this.datasetBucket = new DatasetBucket(`${name}-datasets`, { tags }, parent);
    this.artifactBucket = new ArtifactBucket(`${name}-artifacts`, { tags }, parent);
    this.otaBucket = config.ota.shared ? undefined : new OtaBucket(`${name}-ota`, { tags }, parent);
    this.ota = this.otaBucket ? ownOtaDestination(this.otaBucket) : sharedOtaDestination(config.ota.shared!, this);
    this.image = new TrainingImage(`${name}-image`, { ...imageArgs, tags }, parent);
    this.artifactPrefix = runPrefix(runId);
    this.otaPrefix = `${this.ota.modelsPrefix}${config.ota.modelName}/`;

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

    const runSpec = pulumi
      .all([
        this.artifactBucket.bucketName,
        this.ota.bucketName,
        this.ota.signingKeyArn,
        wandbParameter?.name ?? pulumi.output(undefined),
      ])
      .apply(([artifactBucket, otaBucket, signingKeyId, wandbApiKeyParameter]) =>
        buildRunSpec(config, {
          runId,
          autoScalingGroupName: names.groupName,
          artifactBucket,
          otaBucket,
          otaPrefix: this.otaPrefix,
          signingKeyId,
          usdPerHour: estimate.capacityRates.chosen.usdPerHour,
          ...(wandbApiKeyParameter ? { wandbApiKeyParameter } : {}),
        }),
      );

    const access: GpuNodeAccess = {
      ...(dataset ? { datasetBucketArn: dataset.bucketArn, datasetPrefix: dataset.prefix } : {}),
      artifactBucketArn: this.artifactBucket.bucketArn,
      artifactPrefix: this.artifactPrefix,
      otaBucketArn: this.ota.bucketArn,
      otaPrefix: this.otaPrefix,
      signingKeyArn: this.ota.signingKeyArn,
      ...(this.image.repositoryArn ? { ecrRepositoryArn: this.image.repositoryArn } : {}),
      ...(wandbParameter ? { wandbApiKeyParameterArn: wandbParameter.arn } : {}),
      ...(config.modelSource.kind === "s3"
        ? { initialWeightsArn: `arn:aws:s3:::${config.modelSource.bucket}/${config.modelSource.key}` }
        : {}),
    };

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
        access,
        tags,
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
        ...(config.budgetUsd !== undefined ? { budgetUsd: config.budgetUsd } : {}),
        ...(config.alertEmail !== undefined ? { alertEmail: config.alertEmail } : {}),
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

    this.dashboard = new RunDashboard(
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
      dashboardUrl: this.dashboard.dashboardUrl,
      // Registered so a shared signing key that cannot sign fails the deployment of any program.
      otaPublicKeyPem: this.ota.publicKeyPem,
    });
  }

  /** The bucket and prefix the node mounts at /data; undefined for built-in datasets. */
  private datasetLocation():
    | { bucketName: pulumi.Input<string>; bucketArn: pulumi.Input<string>; prefix: string }
    | undefined {
    const source = this.experiment.dataSource;
    switch (source.kind) {
      case "builtin":
        return undefined;
      case "s3":
        // Mountpoint's --prefix and the IAM prefix both want "" or a prefix ending in "/".
        return {
          bucketName: source.bucket,
          bucketArn: `arn:aws:s3:::${source.bucket}`,
          prefix: source.prefix === "" || source.prefix.endsWith("/") ? source.prefix : `${source.prefix}/`,
        };
      case "dataset-bucket":
        return {
          bucketName: this.datasetBucket.bucketName,
          bucketArn: this.datasetBucket.bucketArn,
          prefix: datasetPrefix(source.name),
        };
    }
  }

  private datasetMount(
    dataset: { bucketName: pulumi.Input<string>; prefix: string } | undefined,
  ): GpuNodeDatasetMount {
    if (!dataset) return { kind: "none" };
    if (this.lustre) return { kind: "fsx-lustre", dnsName: this.lustre.dnsName, mountName: this.lustre.mountName };
    const mount = this.experiment.datasetMount;
    return { kind: mount === "copy" ? "copy" : "mountpoint", bucketName: dataset.bucketName, prefix: dataset.prefix };
  }
}

function ownOtaDestination(bucket: OtaBucket): OtaDestination {
  return {
    bucketName: bucket.bucketName,
    bucketArn: bucket.bucketArn,
    modelsPrefix: bucket.modelsPrefix,
    signingKeyArn: bucket.signingKeyArn,
    publicKeyPem: bucket.signingPublicKeyPem,
    shared: false,
  };
}

/**
 * Another stack's bucket and key (config `ota.shared`, validated). The public key is read from
 * KMS, which also makes `pulumi preview` fail on a key that does not exist, cannot be read, or
 * cannot make the signatures devices verify.
 */
function sharedOtaDestination(shared: SharedOtaBucket, parent: pulumi.Resource): OtaDestination {
  // The key's partition is the bucket's: both belong to the same account setup.
  const partition = shared.signingKeyArn.split(":")[1]!;
  const publicKey = aws.kms.getPublicKeyOutput({ keyId: shared.signingKeyArn }, { parent });
  const publicKeyPem = pulumi
    .all([publicKey.customerMasterKeySpec, publicKey.keyUsage, publicKey.signingAlgorithms, publicKey.publicKeyPem])
    .apply(([keySpec, keyUsage, algorithms, pem]) => {
      const problem = kmsSigningKeyProblem({ keySpec, keyUsage, signingAlgorithms: algorithms });
      if (problem !== undefined) {
        throw new Error(
          `\`ota.signingKeyArn\` is ${JSON.stringify(shared.signingKeyArn)}: KMS says it ${problem}. It must be an asymmetric KMS key with KeySpec ECC_NIST_P256, ` +
            "KeyUsage SIGN_VERIFY and algorithm ECDSA_SHA_256: the signingKeyArn output of the stack that owns the OTA bucket (an OtaBucket). " +
            "Under test, yolo-train/testing (installAwsMocks) answers GetPublicKey with such a key.",
        );
      }
      return pem;
    });
  return {
    bucketName: pulumi.output(shared.bucket),
    bucketArn: pulumi.output(`arn:${partition}:s3:::${shared.bucket}`),
    modelsPrefix: shared.modelsPrefix,
    signingKeyArn: pulumi.output(shared.signingKeyArn),
    publicKeyPem,
    shared: true,
  };
}
