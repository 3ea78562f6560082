import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList, type Problem } from "../../runspec/problems";
import { DatasetBucket, datasetBucketArgsProblems, type DatasetBucketArgs } from "../storage/datasetBucket";
import type { FleetOutputs, FleetParts } from "./fleetParts";
import { emailBudgetNotifications, isAlertEmail, isBudgetUsd, monthlyTagBudget } from "../guardrails/guardrailPlan";
import { Network, type NetworkArgs } from "../network/network";
import { networkArgsProblems } from "../network/networkArgs";
import { OtaBucket, otaBucketArgsProblems, type OtaBucketArgs } from "../ota/otaBucket";
import { autoName, NAME_RULES, physicalName, stackScopedName } from "../naming/physicalNames";
import { TrainingImage, trainingImageProblems, type TrainingImageArgs } from "../image/trainingImage";

/** The cost allocation tag every GPU instance of an experiment on a fleet carries. */
export const FLEET_COST_TAG_KEY = "yolo-train:fleet";

export interface FleetArgs {
  /**
   * The network the fleet's experiments launch GPU nodes into.
   * @default a new VPC with a public subnet per availability zone and an S3 gateway endpoint (see `Network`)
   */
  readonly network?: Omit<NetworkArgs, "tags">;
  /**
   * The training image, built once for every experiment on the fleet.
   * @default the package's `docker/` build, pushed to a new ECR repository (see `TrainingImage`)
   */
  readonly image?: Omit<TrainingImageArgs, "tags">;
  /**
   * The dataset bucket (`datasets/<name>/`).
   * @default a new private, versioned, SSE-S3 bucket (see `DatasetBucket`)
   */
  readonly datasets?: Omit<DatasetBucketArgs, "tags">;
  /**
   * The OTA bucket with its release, root and timestamp keys and timestamp function.
   * @default a new one (see `OtaBucket`)
   */
  readonly ota?: Omit<OtaBucketArgs, "tags">;
  /**
   * Monthly AWS Budgets limit, US dollars, over every experiment on this fleet (the GPU instances
   * carrying the `yolo-train:fleet` tag, once that tag is activated for cost allocation).
   * Alerts at 80 % and 100 % of actual and 100 % of forecast spend, to `alertEmail`.
   * @default no fleet budget (each experiment's own `budgetUsd` still applies)
   */
  readonly monthlyBudgetUsd?: number;
  /**
   * Who gets the fleet budget's alerts. Required with `monthlyBudgetUsd`.
   * @default none
   */
  readonly alertEmail?: string;
  /** Tags for every taggable child. @default none */
  readonly tags?: Record<string, string>;
}

/**
 * The long-lived parts a platform team creates once per account and region, shared by every
 * experiment: the network, the training image and its repository, the dataset bucket, the OTA
 * bucket with its keys, and a monthly budget. Experiments reference it (`TrainingRun`'s `fleet`),
 * in the same program or from another stack (`Fleet.fromStackReference`), and create only what is
 * theirs: the artifact bucket, the node role, the GPU node group, guardrails and dashboard.
 *
 * @example
 * // The platform stack: one fleet, exported for the experiment stacks.
 * import { Fleet } from "yolo-train";
 * const fleet = new Fleet("vision", { monthlyBudgetUsd: 2000, alertEmail: "ml-platform@example.com" });
 * export const visionFleet = fleet.outputs;
 *
 * // An experiment stack: the fleet's parts, read from the platform stack's outputs.
 * import * as pulumi from "@pulumi/pulumi";
 * import { Fleet, TrainingRun } from "yolo-train";
 * import { loadExperimentConfig } from "yolo-train/config";
 * const platform = new pulumi.StackReference("acme/vision-platform/prod");
 * const { config } = loadExperimentConfig();
 * new TrainingRun("helmets", { config, fleet: Fleet.fromStackReference(platform, "visionFleet") });
 */
export class Fleet extends pulumi.ComponentResource implements FleetParts {
  readonly network: Network;
  readonly image: TrainingImage;
  readonly datasetBucket: DatasetBucket;
  readonly ota: OtaBucket;
  /** The fleet's monthly budget; undefined without `monthlyBudgetUsd`. */
  readonly budget: aws.budgets.Budget | undefined;
  /** The `yolo-train:fleet` tag value: `<project>-<stack>-<name>`, fitted to a tag value. */
  readonly costTagValue: string;
  /** Everything an experiment in another stack needs: export it, read it with {@link Fleet.fromStackReference}. */
  readonly outputs: pulumi.Output<FleetOutputs>;

  constructor(name: string, args: FleetArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const problems = new ProblemList();
    for (const p of fleetArgsProblems(args)) problems.add(p);
    problems.throwIfAny(`Fleet "${name}"`);
    super("yolo-train:fleet:Fleet", name, {}, opts);

    this.costTagValue = physicalName(NAME_RULES.tagValue, stackScopedName(name, { project: pulumi.getProject(), stack: pulumi.getStack() }));
    const tags = { ...args.tags, [FLEET_COST_TAG_KEY]: this.costTagValue };
    const parent = { parent: this };
    this.network = new Network(`${name}-network`, { ...args.network, tags }, parent);
    this.image = new TrainingImage(`${name}-image`, { ...args.image, tags }, parent);
    this.datasetBucket = new DatasetBucket(`${name}-datasets`, { ...args.datasets, tags }, parent);
    this.ota = new OtaBucket(`${name}-ota`, { ...args.ota, tags }, parent);
    this.budget =
      args.monthlyBudgetUsd !== undefined
        ? new aws.budgets.Budget(
            autoName(NAME_RULES.budget, `${name}-budget`),
            {
              ...monthlyTagBudget(args.monthlyBudgetUsd, { key: FLEET_COST_TAG_KEY, value: this.costTagValue }),
              notifications: emailBudgetNotifications(args.alertEmail!),
              tags,
            },
            parent,
          )
        : undefined;

    this.outputs = pulumi.output({
      network: { vpcId: this.network.vpcId, subnetIds: this.network.subnetIds, nodeSecurityGroupId: this.network.nodeSecurityGroupId },
      image: { imageUri: this.image.imageUri, repositoryArn: this.image.repositoryArn ?? null },
      datasetBucket: { bucketName: this.datasetBucket.bucketName, bucketArn: this.datasetBucket.bucketArn, kmsKeyArn: this.datasetBucket.kmsKeyArn ?? null },
      ota: {
        bucketName: this.ota.bucketName,
        bucketArn: this.ota.bucketArn,
        modelsPrefix: this.ota.modelsPrefix,
        signingKeyArn: this.ota.signingKeyArn,
        signingPublicKeyPem: this.ota.signingPublicKeyPem,
        rootPublicKeyPem: this.ota.rootPublicKeyPem,
        edgeReadPolicyArn: this.ota.edgeReadPolicyArn,
      },
      costTagValue: this.costTagValue,
    }) as pulumi.Output<FleetOutputs>;
    this.registerOutputs({ outputs: this.outputs, budgetName: this.budget?.name });
  }

  /**
   * The parts of a fleet another stack exports (`export const <outputName> = fleet.outputs`), for
   * a `TrainingRun` of this stack. Nothing is created: the experiment uses the fleet's network,
   * image, buckets and key; destroying it leaves them alone.
   */
  static fromStackReference(stack: pulumi.StackReference, outputName: string): FleetParts {
    const fleet = stack.getOutput(outputName).apply((value) => checkedFleetOutputs(value, outputName));
    return {
      network: {
        vpcId: fleet.network.vpcId,
        subnetIds: fleet.network.subnetIds,
        nodeSecurityGroupId: fleet.network.nodeSecurityGroupId,
      },
      image: { imageUri: fleet.image.imageUri, repositoryArn: fleet.image.repositoryArn.apply((arn) => arn ?? "") },
      datasetBucket: {
        bucketName: fleet.datasetBucket.bucketName,
        bucketArn: fleet.datasetBucket.bucketArn,
        kmsKeyArn: fleet.datasetBucket.kmsKeyArn.apply((arn) => arn ?? ""),
      },
      ota: {
        bucketName: fleet.ota.bucketName,
        bucketArn: fleet.ota.bucketArn,
        modelsPrefix: fleet.ota.modelsPrefix,
        signingKeyArn: fleet.ota.signingKeyArn,
        signingPublicKeyPem: fleet.ota.signingPublicKeyPem,
      },
      costTagValue: fleet.costTagValue,
    };
  }
}

/**
 * Every problem with a fleet's arguments, each part's under `Fleet.<part>.<arg>`: found before
 * the fleet registers anything, so a bad OTA argument never leaves a VPC behind.
 */
export function fleetArgsProblems(args: FleetArgs): Problem[] {
  const under = (part: string, component: string, found: Problem[]): Problem[] =>
    found.map((p) => ({ ...p, key: p.key.replace(new RegExp(`^${component}\\.`), `Fleet.${part}.`) }));
  const problems: Problem[] = [
    ...under("network", "Network", networkArgsProblems(args.network ?? {})),
    ...under("image", "TrainingImage", trainingImageProblems(args.image ?? {})),
    ...under("datasets", "DatasetBucket", datasetBucketArgsProblems(args.datasets ?? {})),
    ...under("ota", "OtaBucket", otaBucketArgsProblems(args.ota ?? {})),
  ];
  const budget = args.monthlyBudgetUsd;
  if (budget !== undefined && !isBudgetUsd(budget)) {
    problems.push({ key: "Fleet.monthlyBudgetUsd", value: budget, allowed: "an amount in US dollars greater than 0", fix: "e.g. 2000, or omit it for no fleet budget" });
  }
  const email = args.alertEmail;
  if (email !== undefined && !isAlertEmail(email)) {
    problems.push({ key: "Fleet.alertEmail", value: email, allowed: "an email address", fix: "e.g. ml-platform@example.com" });
  } else if (budget !== undefined && email === undefined) {
    problems.push({ key: "Fleet.alertEmail", value: undefined, allowed: "an email address when monthlyBudgetUsd is set", fix: "name who gets the budget's alerts, or omit monthlyBudgetUsd" });
  }
  return problems;
}

/** A stack output that is a fleet's `outputs`, or an error naming the output and what is missing. */
export function checkedFleetOutputs(value: unknown, outputName: string): FleetOutputs {
  const missing: string[] = [];
  const at = (path: string): unknown => path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
  for (const path of [
    "network.vpcId",
    "network.subnetIds",
    "network.nodeSecurityGroupId",
    "image.imageUri",
    "datasetBucket.bucketName",
    "datasetBucket.bucketArn",
    "ota.bucketName",
    "ota.bucketArn",
    "ota.modelsPrefix",
    "ota.signingKeyArn",
    "costTagValue",
  ]) {
    const v = at(path);
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) missing.push(path);
  }
  if (missing.length > 0) {
    throw new Error(
      `Stack output "${outputName}" is not a yolo-train Fleet's outputs: ${value === undefined ? "the stack has no such output" : `${missing.join(", ")} missing`}. ` +
        `Export the fleet's outputs in the fleet stack (\`export const ${outputName} = fleet.outputs\`) and run \`pulumi up\` there first.`,
    );
  }
  return value as FleetOutputs;
}
