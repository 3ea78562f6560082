import type * as pulumi from "@pulumi/pulumi";

/**
 * The long-lived parts experiments share, as a `TrainingRun` takes them: each is satisfied by
 * the component itself (`Network`, `TrainingImage`, `DatasetBucket`, `OtaBucket`), by plain
 * values, or by another stack's outputs (`Fleet.fromStackReference`).
 */

/** Where GPU nodes launch: a `Network`, or its ids. */
export interface NetworkPart {
  readonly vpcId: pulumi.Input<string>;
  /** Subnets the nodes may launch in; the first also holds an FSx for Lustre file system. */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** A security group for the nodes; it needs no inbound rule (access is through SSM). */
  readonly nodeSecurityGroupId: pulumi.Input<string>;
}

/** The training image: a `TrainingImage`, or a URI (by digest, ideally) and its ECR repository. */
export interface ImagePart {
  readonly imageUri: pulumi.Input<string>;
  /**
   * The ECR repository the image is in: the node role is granted pulls from it.
   * @default none (a public image, or one the nodes can pull without IAM)
   */
  readonly repositoryArn?: pulumi.Input<string> | undefined;
}

/** Where datasets live (`datasets/<name>/`): a `DatasetBucket`, or its name and ARN. */
export interface DatasetBucketPart {
  readonly bucketName: pulumi.Input<string>;
  readonly bucketArn: pulumi.Input<string>;
  /**
   * The bucket's customer managed key (SSE-KMS): readers are granted `kms:Decrypt` on it.
   * @default none (SSE-S3)
   */
  readonly kmsKeyArn?: pulumi.Input<string> | undefined;
}

/** Where releases go: an `OtaBucket`, or its bucket and release key. */
export interface OtaPart {
  readonly bucketName: pulumi.Input<string>;
  readonly bucketArn: pulumi.Input<string>;
  /** Models live under this prefix (`models/`); a run's under `<modelsPrefix><modelName>/`. */
  readonly modelsPrefix: pulumi.Input<string>;
  /** The release key (a key ARN, not an alias) the nodes sign manifests with. */
  readonly signingKeyArn: pulumi.Input<string>;
  /**
   * The release key's public half (PEM).
   * @default read from KMS, which also checks that the key can make the signatures devices verify
   */
  readonly signingPublicKeyPem?: pulumi.Input<string>;
}

/**
 * The shared parts of a {@link Fleet}: what experiments on that fleet use instead of creating
 * their own. Every part is optional: an experiment creates what its fleet does not give.
 */
export interface FleetParts {
  readonly network?: NetworkPart;
  readonly image?: ImagePart;
  readonly datasetBucket?: DatasetBucketPart;
  readonly ota?: OtaPart;
  /**
   * The value of the `yolo-train:fleet` cost allocation tag the fleet's budget counts: GPU
   * instances of experiments on the fleet carry it.
   * @default no fleet tag
   */
  readonly costTagValue?: pulumi.Input<string>;
}

/** A fleet as plain values: what a fleet stack exports, and `Fleet.fromStackReference` reads. */
export interface FleetOutputs {
  readonly network: { readonly vpcId: string; readonly subnetIds: string[]; readonly nodeSecurityGroupId: string };
  readonly image: { readonly imageUri: string; readonly repositoryArn: string | null };
  readonly datasetBucket: { readonly bucketName: string; readonly bucketArn: string; readonly kmsKeyArn: string | null };
  readonly ota: {
    readonly bucketName: string;
    readonly bucketArn: string;
    readonly modelsPrefix: string;
    readonly signingKeyArn: string;
    readonly signingPublicKeyPem: string;
    readonly rootPublicKeyPem: string;
    readonly edgeReadPolicyArn: string;
  };
  readonly costTagValue: string;
}
