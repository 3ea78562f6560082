import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList } from "../config/problems";
import { abortIncompleteUploadsRule } from "./bucketLifecycle";
import { DEFAULT_MODELS_PREFIX } from "./bucketLayout";
import { edgeReadPolicyDocument } from "./bucketPolicies";
import { PrivateBucket } from "./privateBucket";
import { bucketNameProblems, daysProblems, defaultSigningKeyAlias, kmsAliasProblems, prefixProblems } from "./storageArgs";

export interface OtaBucketArgs {
  /**
   * Key prefix under which models, manifests and channels are published; the edge policy is
   * scoped to it.
   * @default "models/"
   */
  readonly modelsPrefix?: string;
  /**
   * Alias of the signing key, unique per account and region.
   * @default "alias/yolo-train/<project>/<stack>/<name>"
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html
   */
  readonly signingKeyAlias?: string;
  /**
   * Days KMS waits before deleting the signing key once scheduled for deletion (7–30). While
   * waiting, the deletion can be cancelled; after it, no manifest can be signed with that key
   * again and devices pinned to it accept no new release.
   * @default 30
   */
  readonly signingKeyDeletionWindowInDays?: number;
  /**
   * Let `pulumi destroy` delete the bucket with every released model in it.
   * @default false — devices in the field may still pull these models.
   */
  readonly forceDestroy?: boolean;
  /** Tags for every taggable child. @default none */
  readonly tags?: Record<string, string>;
}

/**
 * Over-the-air delivery of trained models to edge boxes: a private, TLS-only, versioned bucket
 * holding models under `modelsPrefix`, an IAM policy that lets devices read that prefix and
 * nothing else, and a KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY) whose private half never
 * leaves KMS and signs each release manifest (ECDSA_SHA_256). Devices pin `signingPublicKeyPem`.
 *
 * Objects are encrypted with SSE-S3, not a KMS key: devices then need S3 read permissions only,
 * and no device credential can ever use a KMS key.
 */
export class OtaBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  /** Key prefix models are published under, e.g. `models/`. */
  readonly modelsPrefix: string;
  readonly signingKeyArn: pulumi.Output<string>;
  readonly signingKeyId: pulumi.Output<string>;
  /** The alias name of the signing key, e.g. `alias/yolo-train/yolo-train/dev/ota`. */
  readonly signingKeyAlias: pulumi.Output<string>;
  /** The signing key's public half (SPKI, PEM), for devices to pin. */
  readonly signingPublicKeyPem: pulumi.Output<string>;
  /** ARN of the read-only policy to attach to the edge devices' role or user. */
  readonly edgeReadPolicyArn: pulumi.Output<string>;

  constructor(name: string, args: OtaBucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const problems = new ProblemList();
    for (const p of [
      ...bucketNameProblems("OtaBucket.name", name),
      ...prefixProblems("OtaBucket.modelsPrefix", args.modelsPrefix),
      ...kmsAliasProblems("OtaBucket.signingKeyAlias", args.signingKeyAlias),
      ...daysProblems("OtaBucket.signingKeyDeletionWindowInDays", args.signingKeyDeletionWindowInDays, 7, 30),
    ]) {
      problems.add(p);
    }
    problems.throwIfAny(`OtaBucket "${name}"`);

    super("yolo-train:ota:OtaBucket", name, {}, opts);

    const modelsPrefix = args.modelsPrefix ?? DEFAULT_MODELS_PREFIX;
    const storage = new PrivateBucket(
      name,
      {
        // Versions keep every release recoverable, whatever a later publish overwrites.
        versioning: "Enabled",
        forceDestroy: args.forceDestroy ?? false,
        lifecycleRules: [abortIncompleteUploadsRule(1)],
        tags: args.tags,
      },
      { parent: this },
    );

    const edgeReadPolicy = new aws.iam.Policy(
      `${name}-edge-read`,
      {
        description: `Edge devices: read-only access to ${modelsPrefix} of the OTA bucket`,
        policy: storage.bucketArn.apply((arn) => JSON.stringify(edgeReadPolicyDocument(arn, modelsPrefix))),
        tags: args.tags,
      },
      { parent: this },
    );

    // Asymmetric keys cannot rotate automatically; a new key means re-pinning devices, so the
    // deletion window is long and the key is never recreated behind the user's back.
    const signingKey = new aws.kms.Key(
      `${name}-signing-key`,
      {
        description: "yolo-train OTA: signs model release manifests (ECDSA P-256, SHA-256)",
        keyUsage: "SIGN_VERIFY",
        customerMasterKeySpec: "ECC_NIST_P256",
        deletionWindowInDays: args.signingKeyDeletionWindowInDays ?? 30,
        tags: args.tags,
      },
      { parent: this },
    );

    const alias = new aws.kms.Alias(
      `${name}-signing-key-alias`,
      { name: args.signingKeyAlias ?? defaultSigningKeyAlias(pulumi.getProject(), pulumi.getStack(), name), targetKeyId: signingKey.keyId },
      { parent: this },
    );

    this.bucket = storage.bucket;
    this.bucketName = storage.bucketName;
    this.bucketArn = storage.bucketArn;
    this.modelsPrefix = modelsPrefix;
    this.signingKeyArn = signingKey.arn;
    this.signingKeyId = signingKey.keyId;
    this.signingKeyAlias = alias.name;
    this.signingPublicKeyPem = aws.kms.getPublicKeyOutput({ keyId: signingKey.arn }, { parent: this }).publicKeyPem;
    this.edgeReadPolicyArn = edgeReadPolicy.arn;
    this.registerOutputs({
      bucketName: this.bucketName,
      bucketArn: this.bucketArn,
      modelsPrefix: this.modelsPrefix,
      signingKeyArn: this.signingKeyArn,
      signingKeyId: this.signingKeyId,
      signingKeyAlias: this.signingKeyAlias,
      signingPublicKeyPem: this.signingPublicKeyPem,
      edgeReadPolicyArn: this.edgeReadPolicyArn,
    });
  }
}
