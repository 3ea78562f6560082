import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList, type Problem } from "../../runspec/problems";
import { abortIncompleteUploadsRule } from "../storage/bucketLifecycle";
import { DEFAULT_MODELS_PREFIX } from "../../runspec/bucketLayout";
import { edgeReadPolicyDocument } from "../storage/bucketPolicies";
import { TimestampFunction } from "./otaTimestampFunction";
import { DEFAULT_TIMESTAMP_EXPIRES_HOURS, DEFAULT_TIMESTAMP_REFRESH_HOURS, timestampScheduleProblems } from "./otaTimestampPolicies";
import { PrivateBucket } from "../storage/privateBucket";
import { timestampFunctionArchive } from "./timestampFunctionCode";
import { autoName, NAME_RULES } from "../naming/physicalNames";
import { daysProblems, defaultSigningKeyAlias, kmsAliasProblems, prefixProblems } from "../storage/storageArgs";
import { grantModelPublish, grantReleaseSign, type Grantee } from "../iam/grants";

export interface OtaBucketArgs {
  /**
   * Key prefix under which models, manifests and channels are published; the edge policy is
   * scoped to it.
   * @default "models/"
   */
  readonly modelsPrefix?: string;
  /**
   * Alias of the signing key, unique per account and region.
   * @default "alias/yolo-train/<project>/<stack>/<name>" (fitted to KMS's rules: see `defaultSigningKeyAlias`)
   * @see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html
   */
  readonly signingKeyAlias?: string;
  /**
   * Alias of the root key, unique per account and region.
   * @default "alias/yolo-train/<project>/<stack>/<name>/root"
   */
  readonly rootKeyAlias?: string;
  /**
   * Alias of the timestamp key, unique per account and region.
   * @default "alias/yolo-train/<project>/<stack>/<name>/timestamp"
   */
  readonly timestampKeyAlias?: string;
  /**
   * Days KMS waits before deleting a key of this bucket (signing, root and timestamp keys) once
   * scheduled for deletion (7–30). While waiting, the deletion can be cancelled; after it, nothing
   * can be signed with that key again and devices that trust it accept no new release.
   * @default 30
   */
  readonly signingKeyDeletionWindowInDays?: number;
  /**
   * Hours each timestamp (`<model>/timestamp.json`) is valid (1–168). A box that sees only
   * expired timestamps is looking at a frozen view of the bucket and refuses to update.
   * @default 24
   */
  readonly timestampExpiresHours?: number;
  /**
   * Hours between two re-signings of the timestamps: a whole number from 1, at most half of
   * `timestampExpiresHours`, so one failed refresh never lets a timestamp lapse.
   * @default 6
   */
  readonly timestampRefreshHours?: number;
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
 * nothing else, and three KMS asymmetric keys (ECC_NIST_P256, SIGN_VERIFY, ECDSA_SHA_256) whose
 * private halves never leave KMS:
 *
 * - the signing (release) key signs each release manifest and channel membership; the run's node
 *   role uses it. Devices pin `signingPublicKeyPem`, or a root document naming it.
 * - the root key signs root documents of trust (which keys are the release and timestamp keys).
 *   Only an administrator uses it, from a workstation (`yolo-train ota root sign`): no role this
 *   package creates may use it.
 * - the timestamp key signs each model's `timestamp.json`, re-signed every
 *   `timestampRefreshHours` by a {@link TimestampFunction}, the key's only user.
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
  /** The root key: signs root documents of trust, from an administrator's workstation only. */
  readonly rootKeyArn: pulumi.Output<string>;
  readonly rootKeyAlias: pulumi.Output<string>;
  /** The root key's public half (SPKI, PEM): what devices pin as their root of trust. */
  readonly rootPublicKeyPem: pulumi.Output<string>;
  /** The timestamp key: used by the timestamp function alone. */
  readonly timestampKeyArn: pulumi.Output<string>;
  readonly timestampKeyAlias: pulumi.Output<string>;
  /** The timestamp key's public half (SPKI, PEM), for the root document. */
  readonly timestampPublicKeyPem: pulumi.Output<string>;
  /** The Lambda function that re-signs the timestamps. */
  readonly timestampFunctionName: pulumi.Output<string>;
  /** The function, its schedule and its roles. */
  readonly timestampFunction: TimestampFunction;

  constructor(name: string, args: OtaBucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const problems = new ProblemList();
    for (const p of otaBucketArgsProblems(args)) problems.add(p);
    problems.throwIfAny(`OtaBucket "${name}"`);
    // Built (or found) before any resource: a bundle that cannot be built fails here, creating nothing.
    const timestampFunctionCode = timestampFunctionArchive();

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
      autoName(NAME_RULES.iamPolicy, `${name}-edge-read`),
      {
        description: `Edge devices: read-only access to ${modelsPrefix} of the OTA bucket`,
        policy: storage.bucketArn.apply((arn) => JSON.stringify(edgeReadPolicyDocument(arn, modelsPrefix))),
        tags: args.tags,
      },
      { parent: this },
    );

    // Asymmetric keys cannot rotate automatically; a new key means re-pinning devices, so the
    // deletion window is long and a key is never recreated behind the user's back.
    const [project, stack] = [pulumi.getProject(), pulumi.getStack()];
    const deletionWindowInDays = args.signingKeyDeletionWindowInDays ?? 30;
    const signKey = (role: "signing" | "root" | "timestamp", description: string, aliasName: string | undefined) => {
      const key = new aws.kms.Key(
        `${name}-${role}-key`,
        { description, keyUsage: "SIGN_VERIFY", customerMasterKeySpec: "ECC_NIST_P256", deletionWindowInDays, tags: args.tags },
        { parent: this },
      );
      const keyAlias = new aws.kms.Alias(
        `${name}-${role}-key-alias`,
        { name: aliasName ?? defaultSigningKeyAlias(project, stack, name, role === "signing" ? undefined : role), targetKeyId: key.keyId },
        { parent: this },
      );
      return { key, alias: keyAlias, publicKeyPem: aws.kms.getPublicKeyOutput({ keyId: key.arn }, { parent: this }).publicKeyPem };
    };
    const signing = signKey("signing", "yolo-train OTA: signs model release manifests (ECDSA P-256, SHA-256)", args.signingKeyAlias);
    // No policy in this package names the root key: only an administrator, through the account's
    // IAM (the key policy's default), can sign a root document, and a leaked node, function or
    // device credential can never re-root the fleet.
    const root = signKey(
      "root",
      "yolo-train OTA: signs root documents of trust; use only from an administrator's workstation (yolo-train ota root sign)",
      args.rootKeyAlias,
    );
    const timestamp = signKey(
      "timestamp",
      "yolo-train OTA: signs each model's timestamp.json; used only by the stack's timestamp function (ECDSA P-256, SHA-256)",
      args.timestampKeyAlias,
    );
    const signingKey = signing.key;
    const alias = signing.alias;
    const signingPublicKeyPem = signing.publicKeyPem;

    const timestampFunction = new TimestampFunction(
      `${name}-timestamp`,
      {
        bucketName: storage.bucketName,
        bucketArn: storage.bucketArn,
        modelsPrefix,
        timestampKeyArn: timestamp.key.arn,
        releasePublicKeyPems: [signingPublicKeyPem],
        expiresHours: args.timestampExpiresHours ?? DEFAULT_TIMESTAMP_EXPIRES_HOURS,
        refreshHours: args.timestampRefreshHours ?? DEFAULT_TIMESTAMP_REFRESH_HOURS,
        code: timestampFunctionCode,
        tags: args.tags,
      },
      { parent: this },
    );

    this.bucket = storage.bucket;
    this.bucketName = storage.bucketName;
    this.bucketArn = storage.bucketArn;
    this.modelsPrefix = modelsPrefix;
    this.signingKeyArn = signingKey.arn;
    this.signingKeyId = signingKey.keyId;
    this.signingKeyAlias = alias.name;
    this.signingPublicKeyPem = signingPublicKeyPem;
    this.edgeReadPolicyArn = edgeReadPolicy.arn;
    this.rootKeyArn = root.key.arn;
    this.rootKeyAlias = root.alias.name;
    this.rootPublicKeyPem = root.publicKeyPem;
    this.timestampKeyArn = timestamp.key.arn;
    this.timestampKeyAlias = timestamp.alias.name;
    this.timestampPublicKeyPem = timestamp.publicKeyPem;
    this.timestampFunction = timestampFunction;
    this.timestampFunctionName = timestampFunction.functionName;
    this.registerOutputs({
      bucketName: this.bucketName,
      bucketArn: this.bucketArn,
      modelsPrefix: this.modelsPrefix,
      signingKeyArn: this.signingKeyArn,
      signingKeyId: this.signingKeyId,
      signingKeyAlias: this.signingKeyAlias,
      signingPublicKeyPem: this.signingPublicKeyPem,
      edgeReadPolicyArn: this.edgeReadPolicyArn,
      rootKeyArn: this.rootKeyArn,
      rootKeyAlias: this.rootKeyAlias,
      rootPublicKeyPem: this.rootPublicKeyPem,
      timestampKeyArn: this.timestampKeyArn,
      timestampKeyAlias: this.timestampKeyAlias,
      timestampPublicKeyPem: this.timestampPublicKeyPem,
      timestampFunctionName: this.timestampFunctionName,
    });
  }

  /**
   * Lets `grantee` publish releases under `prefix` (one model's `models/<name>/`): read the current
   * manifest, write new objects; never delete, never another model's prefix.
   */
  grantWrite(grantee: Grantee, prefix: pulumi.Input<string>): void {
    grantModelPublish(grantee, this.bucketArn, prefix);
  }

  /** Lets `grantee` sign with the release key only: never the root key, nor the timestamp key. */
  grantSign(grantee: Grantee): void {
    grantReleaseSign(grantee, this.signingKeyArn);
  }
}

/** Every problem with `OtaBucket`'s arguments (keys `OtaBucket.<arg>`); empty when they are valid. */
export function otaBucketArgsProblems(args: OtaBucketArgs): Problem[] {
  return [
    ...prefixProblems("OtaBucket.modelsPrefix", args.modelsPrefix),
    ...kmsAliasProblems("OtaBucket.signingKeyAlias", args.signingKeyAlias),
    ...kmsAliasProblems("OtaBucket.rootKeyAlias", args.rootKeyAlias),
    ...kmsAliasProblems("OtaBucket.timestampKeyAlias", args.timestampKeyAlias),
    ...sameAliasProblems(args),
    ...daysProblems("OtaBucket.signingKeyDeletionWindowInDays", args.signingKeyDeletionWindowInDays, 7, 30),
    ...timestampScheduleProblems(
      { expiresHours: "OtaBucket.timestampExpiresHours", refreshHours: "OtaBucket.timestampRefreshHours" },
      args.timestampExpiresHours,
      args.timestampRefreshHours,
    ),
  ];
}

/** Two keys of one bucket cannot share an alias (an alias names one key). */
function sameAliasProblems(args: OtaBucketArgs): Problem[] {
  const given: [string, string | undefined][] = [
    ["OtaBucket.signingKeyAlias", args.signingKeyAlias],
    ["OtaBucket.rootKeyAlias", args.rootKeyAlias],
    ["OtaBucket.timestampKeyAlias", args.timestampKeyAlias],
  ];
  const problems: Problem[] = [];
  given.forEach(([key, value], i) => {
    const first = value === undefined ? undefined : given.slice(0, i).find(([, other]) => other === value);
    if (first) {
      problems.push({
        key,
        value,
        allowed: `an alias no other key of this OtaBucket has (${first[0]} is ${JSON.stringify(value)} too)`,
        fix: "give each key an alias of its own, or leave this one out for the default",
      });
    }
  });
  return problems;
}
