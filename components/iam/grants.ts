import * as pulumi from "@pulumi/pulumi";
import {
  datasetReadStatements,
  imagePullStatements,
  modelPublishStatements,
  releaseSignStatements,
  runArtifactStatements,
  type GrantStatement,
} from "./grantStatements";

/**
 * Something permissions can be granted to: a role that gathers statements into its policy, as a
 * {@link NodeRole} does. Resources hand out their own permissions with `grant…(grantee, …)`
 * methods (`DatasetBucket.grantRead`, `ArtifactBucket.grantReadWrite`, `OtaBucket.grantWrite`,
 * `OtaBucket.grantSign`, `TrainingImage.grantPull`), in the manner of the AWS CDK.
 */
export interface Grantee {
  /** Adds statements to the grantee's policy; their ARNs may still be outputs. */
  addToPolicy(statements: pulumi.Input<readonly GrantStatement[]>): void;
}

/** A bucket as grants see it: its ARN, and its customer managed key when it has one (SSE-KMS; "" for none). */
export interface GrantableBucket {
  readonly bucketArn: pulumi.Input<string>;
  readonly kmsKeyArn?: pulumi.Input<string | undefined> | undefined;
}

/** Read (list and get) the objects under `prefix` of a dataset bucket; decrypt with its key when it has one. */
export function grantDatasetRead(grantee: Grantee, bucket: GrantableBucket, prefix: pulumi.Input<string>): void {
  grantee.addToPolicy(
    pulumi.all([bucket.bucketArn, prefix, bucket.kmsKeyArn]).apply(([arn, p, key]) => datasetReadStatements(arn, p, key || undefined)),
  );
}

/** Read and write a run's artifacts under `prefix` (`runs/<runId>/`), never delete them. */
export function grantRunArtifacts(grantee: Grantee, bucket: GrantableBucket, prefix: pulumi.Input<string>): void {
  grantee.addToPolicy(
    pulumi.all([bucket.bucketArn, prefix, bucket.kmsKeyArn]).apply(([arn, p, key]) => runArtifactStatements(arn, p, key || undefined)),
  );
}

/** Publish one model's releases under `prefix` of an OTA bucket. */
export function grantModelPublish(grantee: Grantee, bucketArn: pulumi.Input<string>, prefix: pulumi.Input<string>): void {
  grantee.addToPolicy(pulumi.all([bucketArn, prefix]).apply(([arn, p]) => modelPublishStatements(arn, p)));
}

/** Sign with a release key (a key ARN, not an alias). */
export function grantReleaseSign(grantee: Grantee, keyArn: pulumi.Input<string>): void {
  grantee.addToPolicy(pulumi.output(keyArn).apply(releaseSignStatements));
}

/** Pull images from one ECR repository; nothing when there is none ("" or undefined: a public image). */
export function grantImagePull(grantee: Grantee, repositoryArn: pulumi.Input<string | undefined>): void {
  grantee.addToPolicy(pulumi.output(repositoryArn).apply((arn) => (arn ? imagePullStatements(arn) : [])));
}
