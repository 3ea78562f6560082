import * as crypto from "crypto";
import * as fs from "fs";
import type * as pulumi from "@pulumi/pulumi";
import { asset as pulumiAsset } from "@pulumi/pulumi";
import {
  isAwsAccountId,
  isAwsRegion,
  KMS_ALIAS_ARN_PATTERN,
  KMS_ALIAS_NAME_PATTERN,
  KMS_KEY_ARN_ANY_ID_PATTERN,
  KMS_KEY_ID_PATTERN,
} from "../runspec/awsPatterns";

/**
 * A pretend AWS account for Pulumi's mock runtime: answers the provider functions (invokes)
 * this package calls, and gives each declared resource the outputs AWS would (ids, ARNs,
 * names, URLs). Used by `npm run plan` and by the tests, so both see the same cloud.
 *
 * An invoke it does not know is an error, never a silent empty answer: a new data source in
 * the components must be added here on purpose, with a plausible answer.
 */
export const FAKE_ACCOUNT_ID = "123456789012";

/** The region of the pretend account unless one is chosen. */
export const FAKE_REGION = "us-east-1";

/** The partition of the pretend account: ARNs start `arn:aws:`. */
export const FAKE_PARTITION = "aws";

/** The public SSM parameter of the Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023); defined with the node group. */
import { DLAMI_SSM_PARAMETER } from "../components/compute/dlami";
export { DLAMI_SSM_PARAMETER };

/** Availability zone letters of a few regions; any other region gets a, b and c. */
const AVAILABILITY_ZONES: Record<string, string[]> = {
  "us-east-1": ["a", "b", "c", "d", "e", "f"],
  "us-west-2": ["a", "b", "c", "d"],
  "eu-west-1": ["a", "b", "c"],
  "eu-central-1": ["a", "b", "c"],
  "ap-northeast-1": ["a", "c", "d"],
};

/** A recorded resource: what the component declared, and under which parent. */
export interface RecordedResource {
  readonly urn: string;
  readonly parentUrn?: string;
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>;
  readonly custom: boolean;
  /** The id the fake cloud gave it ("" for a component resource under realistic ids). */
  readonly id?: string;
  /** Its state as the fake cloud answered: the inputs plus what AWS computes (`arn`, `keyId`, ...). */
  readonly outputs?: Record<string, any>;
  /** URNs it was registered to depend on (`dependsOn` and the resources its input outputs came from). */
  readonly dependencies: readonly string[];
  /** The `ignoreChanges` it was registered with. */
  readonly ignoreChanges: readonly string[];
}

export interface FakeAwsOptions {
  readonly region: string;
  /** The account of every ARN. @default {@link FAKE_ACCOUNT_ID} */
  readonly accountId?: string;
  /**
   * How resource ids look. `logical` (the default, what this package's own tests assert on):
   * `<logical name>-id`, and ARNs built on it. `realistic`: what AWS and the provider report,
   * e.g. `vpc-` and 17 hex digits, a KMS key id that is a UUID, a role's name, a topic's ARN;
   * every value passes the shape checks of the components and the stack config.
   * @default "logical"
   */
  readonly ids?: "logical" | "realistic";
  /**
   * Other stacks' outputs, by fully qualified stack name (`org/project/stack`), answered to a
   * `pulumi.StackReference` of that name; a reference to any other stack fails as Pulumi's does.
   * @default none
   */
  readonly stackOutputs?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * Any key id the fake answered before realistic ids: letters, digits and '-' (a key ARN with one
 * is {@link KMS_KEY_ARN_ANY_ID_PATTERN}); under realistic ids a key id must be KMS's own
 * ({@link KMS_KEY_ID_PATTERN}: a UUID, or `mrk-` and 32 hex digits). Formats: runspec/awsPatterns.ts.
 */
const LOOSE_KEY_ID = /^[A-Za-z0-9-]+$/;
const EXAMPLE_KEY_ARN = `arn:aws:kms:${FAKE_REGION}:${FAKE_ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

/** Types of the resources this package declares that have no ARN of their own. */
const WITHOUT_ARN = new Set([
  "aws:s3/bucketVersioning:BucketVersioning",
  "aws:s3/bucketPolicy:BucketPolicy",
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  "aws:s3/bucketNotification:BucketNotification",
  "aws:ecr/lifecyclePolicy:LifecyclePolicy",
  "aws:iam/rolePolicy:RolePolicy",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  "aws:sns/topicPolicy:TopicPolicy",
  "aws:lambda/invocation:Invocation",
  "aws:lambda/permission:Permission",
]);

/**
 * Pulumi mocks backed by the pretend account. `invokes` lists every invoke token answered.
 * Public as `yolo-train/testing` (see `installAwsMocks` there, which uses realistic ids); this
 * package's own tests and `npm run plan` use it through `OfflineRuntime`.
 */
export class FakeAws implements pulumi.runtime.Mocks {
  readonly region: string;
  readonly accountId: string;
  readonly ids: "logical" | "realistic";
  /** Every invoke made, in order: token and inputs. */
  readonly invokes: { token: string; inputs: Record<string, any> }[] = [];
  /** Invoke tokens it was asked for and could not answer. */
  readonly unknownInvokes: string[] = [];
  /** A real P-256 key pair per KMS key, so each key's public key output is a real PEM of its own. */
  private readonly keyPairs = new Map<string, crypto.KeyPairKeyObjectResult>();
  /** KMS aliases declared (`alias/name` → target key id or ARN), so GetPublicKey can follow them. */
  private readonly aliases = new Map<string, string>();

  constructor(options: FakeAwsOptions) {
    this.region = options.region;
    this.accountId = options.accountId ?? FAKE_ACCOUNT_ID;
    this.ids = options.ids ?? "logical";
    this.stackOutputs = options.stackOutputs ?? {};
    if (!isAwsAccountId(this.accountId)) {
      throw new Error(`fake AWS: accountId ${JSON.stringify(this.accountId)} is not an AWS account id (12 digits), e.g. ${FAKE_ACCOUNT_ID}`);
    }
  }

  private get realistic(): boolean {
    return this.ids === "realistic";
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    this.invokes.push({ token: args.token, inputs: args.inputs });
    const region = args.inputs?.region ?? this.region;
    const account = this.accountId;
    switch (args.token) {
      case "aws:index/getRegion:getRegion":
        return { id: region, name: region, region, description: region, endpoint: `ec2.${region}.amazonaws.com` };
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return {
          id: account,
          accountId: account,
          arn: `arn:aws:iam::${account}:user/offline-plan`,
          // An IAM user's unique id: AIDA and 17 upper-case letters and digits.
          userId: this.realistic ? `AIDA${this.hex("user/offline-plan", 17).toUpperCase()}` : "AIDAOFFLINEPLAN",
        };
      case "aws:index/getPartition:getPartition":
        return { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" };
      case "aws:index/getAvailabilityZones:getAvailabilityZones": {
        const suffixes = availabilityZoneLetters(region);
        if (!suffixes) throw new Error(`fake AWS: no availability zones known for region ${region}`);
        return {
          id: region,
          names: suffixes.map((s) => `${region}${s}`),
          zoneIds: suffixes.map((_, i) => `${zoneIdPrefix(region)}-az${i + 1}`),
          groupNames: [region],
        };
      }
      case "aws:ssm/getParameter:getParameter": {
        if (args.inputs.name !== DLAMI_SSM_PARAMETER) {
          throw new Error(`fake AWS: unknown SSM parameter ${args.inputs.name}`);
        }
        const ami = this.realistic ? `ami-${this.hex(`ami/${region}`, 17)}` : "ami-0dla0base0gpu0al23";
        return {
          id: args.inputs.name,
          name: args.inputs.name,
          // A public parameter: no account in its ARN.
          arn: `arn:aws:ssm:${region}::parameter${args.inputs.name}`,
          type: "String",
          value: ami,
          insecureValue: ami,
          version: 1,
        };
      }
      case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
        return {
          id: region,
          authorizationToken: Buffer.from("AWS:offline-token").toString("base64"),
          userName: "AWS",
          password: "offline-token",
          proxyEndpoint: `https://${account}.dkr.ecr.${region}.amazonaws.com`,
          expiresAt: "2099-01-01T00:00:00Z",
        };
      case "aws:kms/getPublicKey:getPublicKey": {
        const keyArn = this.kmsKeyArn(String(args.inputs.keyId), region);
        const pair = this.keyPair(keyArn);
        const pem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
        return {
          // What KMS answers: the key's ARN, whichever form of key id was asked for.
          id: keyArn,
          keyId: keyArn,
          arn: keyArn,
          publicKeyPem: pem,
          publicKey: pair.publicKey.export({ type: "spki", format: "der" }).toString("base64"),
          customerMasterKeySpec: "ECC_NIST_P256",
          keySpec: "ECC_NIST_P256",
          keyUsage: "SIGN_VERIFY",
          signingAlgorithms: ["ECDSA_SHA_256"],
          encryptionAlgorithms: [],
        };
      }
      default: {
        const message =
          `fake AWS: unknown invoke ${args.token}(${JSON.stringify(args.inputs)}). ` +
          "Add an answer for it in offline/fakeAws.ts if the components really need it.";
        this.unknownInvokes.push(args.token);
        throw invokeError(message);
      }
    }
  }

  /**
   * The ARN of the KMS key a GetPublicKey names (a key ARN, a key id, an alias or an alias ARN),
   * refusing what KMS would refuse. With logical ids any `[A-Za-z0-9-]+` key id is taken, as
   * before; with realistic ids the key id must be a UUID or `mrk-` and 32 hex digits, as KMS's.
   */
  private kmsKeyArn(keyId: string, region: string): string {
    const refuse = (why: string): never => {
      throw invokeError(
        `fake AWS (yolo-train/testing): kms:GetPublicKey refused keyId ${JSON.stringify(keyId)}: ${why}. ` +
          "KMS takes a key ARN (arn:aws:kms:<region>:<12-digit account>:key/<key id>), a key id (a UUID, or mrk- and 32 hex digits), " +
          "an alias (alias/<name>) or an alias ARN. Under test, pass the signingKeyArn of an OtaBucket declared under these mocks, " +
          `or a realistic ARN such as ${EXAMPLE_KEY_ARN}.`,
      );
    };
    // Logical ids: answer any key, as before (the tests of this package name keys `<name>-id`).
    if (!this.realistic) return KMS_KEY_ARN_ANY_ID_PATTERN.test(keyId) || !LOOSE_KEY_ID.test(keyId) ? keyId : `arn:aws:kms:${region}:${this.accountId}:key/${keyId}`;
    const keyIdOk = (id: string) => KMS_KEY_ID_PATTERN.test(id);
    const arnOf = (id: string) => `arn:aws:kms:${region}:${this.accountId}:key/${id}`;
    const alias = KMS_ALIAS_NAME_PATTERN.test(keyId) ? keyId : KMS_ALIAS_ARN_PATTERN.exec(keyId)?.groups?.aliasName;
    if (alias !== undefined) {
      const target = this.aliases.get(alias);
      // An alias not declared here names another stack's key: answered as a key of its own.
      if (target === undefined) return arnOf(this.uuid(`kms:${alias}`));
      return KMS_KEY_ARN_ANY_ID_PATTERN.test(target) ? target : arnOf(target);
    }
    const arn = KMS_KEY_ARN_ANY_ID_PATTERN.exec(keyId);
    if (arn) {
      if (!keyIdOk(arn.groups!.keyId!)) refuse(`its key id ${JSON.stringify(arn.groups!.keyId)} is not a UUID or mrk- and 32 hex digits`);
      return keyId;
    }
    if (keyId.startsWith("arn:")) refuse("it is not a KMS key or alias ARN");
    if (!keyIdOk(keyId)) refuse("it is not a key id, an alias or an ARN");
    return arnOf(keyId);
  }

  /**
   * The P-256 key pair of a KMS key, made on first use: a key ARN and its bare key id are the same
   * key (KMS takes either), so they share one pair.
   */
  keyPair(keyId: string): crypto.KeyPairKeyObjectResult {
    const id = /:key\/([^/]+)$/.exec(keyId)?.[1] ?? keyId;
    let pair = this.keyPairs.get(id);
    if (!pair) {
      pair = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
      this.keyPairs.set(id, pair);
    }
    return pair;
  }

  /** Inputs of every resource declared, by `type::name` (deserialized, as the component wrote them). */
  readonly declaredInputs = new Map<string, Record<string, any>>();
  /** What the fake answered for every resource declared, by `type::name`: its id and its state. */
  readonly answered = new Map<string, { readonly id: string; readonly state: Record<string, any> }>();

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } | Promise<{ id: string; state: Record<string, any> }> {
    const key = `${args.type}::${args.name}`;
    this.declaredInputs.set(key, args.inputs);
    if (args.type === "pulumi:pulumi:StackReference") return this.stackReference(String(args.inputs.name ?? args.name));
    refuseInvalidName(args.type, args.name, args.inputs);
    const id = args.id || (this.realistic ? this.realisticId(args.type, args.name, args.inputs, args.custom !== false) : `${args.name}-id`);
    const state = { ...args.inputs, ...this.outputsOf(args.type, args.name, args.inputs, id) };
    if (args.type === "aws:kms/alias:Alias" && typeof args.inputs.targetKeyId === "string") {
      this.aliases.set(state.name, args.inputs.targetKeyId);
    }
    const answer = (result: { id: string; state: Record<string, any> }) => {
      this.answered.set(key, result);
      return result;
    };
    if (args.type === "aws:lambda/function:Function") {
      // What Lambda reports for the deployment package: base64 SHA-256, read off the archive.
      return archiveDigest(args.inputs.code).then((codeSha256) => answer({ id, state: { ...state, codeSha256, sourceCodeHash: codeSha256 } }));
    }
    return answer({ id, state });
  }

  private readonly stackOutputs: Readonly<Record<string, Readonly<Record<string, unknown>>>>;

  /** What the Pulumi service answers for a stack reference: the stack's outputs, or an error. */
  private stackReference(name: string): { id: string; state: Record<string, any> } {
    const outputs = this.stackOutputs[name];
    if (outputs === undefined) {
      const known = Object.keys(this.stackOutputs);
      throw new Error(`unknown stack "${name}" (fake AWS knows ${known.length > 0 ? known.map((k) => `"${k}"`).join(", ") : "no stacks: pass stackOutputs"})`);
    }
    return { id: name, state: { name, outputs, secretOutputNames: [] } };
  }

  /** Lower-case hex digits, stable for this account, region and `what`. */
  private hex(what: string, length: number): string {
    let out = "";
    for (let i = 0; out.length < length; i++) {
      out += crypto.createHash("sha256").update(`${this.accountId}:${this.region}:${what}:${i}`).digest("hex");
    }
    return out.slice(0, length);
  }

  /** A version 4 UUID, stable for this account, region and `what`. */
  private uuid(what: string): string {
    const h = this.hex(`uuid:${what}`, 32);
    const variant = "89ab"[parseInt(h[16]!, 16) % 4]!;
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  /** The physical name Pulumi gives a resource: its explicit name, else the logical name and 7 random characters. */
  private physicalName(name: string, inputs: Record<string, any>): string {
    return inputs.name ?? `${name}-0a1b2c3`;
  }

  /** The id the AWS provider reports for a resource (what `resource.id` resolves to). */
  private realisticId(type: string, name: string, inputs: Record<string, any>, custom: boolean): string {
    if (!custom) return "";
    const what = `${type}::${name}`;
    const physical = this.physicalName(name, inputs);
    const region = inputs.region ?? this.region;
    const account = this.accountId;
    switch (type) {
      case "aws:s3/bucket:Bucket":
        return inputs.bucket ?? physical.toLowerCase();
      case "aws:kms/key:Key":
        return this.uuid(what);
      case "aws:kms/alias:Alias":
        return inputs.name ?? `alias/${name}`;
      case "aws:iam/policy:Policy":
        return `arn:aws:iam::${account}:policy/${physical}`;
      case "aws:iam/rolePolicy:RolePolicy":
        return `${inputs.role}:${physical}`;
      case "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
        return `${inputs.role}-${this.hex(what, 26)}`;
      case "aws:ec2/launchTemplate:LaunchTemplate":
        return `lt-${this.hex(what, 17)}`;
      case "aws:ec2/securityGroup:SecurityGroup":
        return `sg-${this.hex(what, 17)}`;
      case "aws:fsx/lustreFileSystem:LustreFileSystem":
        return `fs-${this.hex(what, 17)}`;
      case "aws:sns/topic:Topic":
        return `arn:aws:sns:${region}:${account}:${physical}`;
      case "aws:sns/topicPolicy:TopicPolicy":
        return String(inputs.arn);
      case "aws:sns/topicSubscription:TopicSubscription":
        return `${inputs.topic}:${this.uuid(what)}`;
      case "aws:cloudwatch/dashboard:Dashboard":
        return inputs.dashboardName ?? name;
      case "aws:scheduler/schedule:Schedule":
        return `${inputs.groupName ?? "default"}/${physical}`;
      case "aws:budgets/budget:Budget":
        return `${account}:${physical}`;
      case "aws:ssm/parameter:Parameter":
        return inputs.name ?? `/${name}`;
      case "aws:ecr/lifecyclePolicy:LifecyclePolicy":
        return String(inputs.repository);
      case "aws:lambda/invocation:Invocation":
        return `${inputs.functionName}_${inputs.qualifier ?? "$LATEST"}_${crypto.createHash("md5").update(String(inputs.input)).digest("hex")}`;
      case "docker:index/image:Image":
        return imageDigest(inputs.imageName ?? `${name}:latest`);
      default:
        if (type.startsWith("aws:s3/bucket") && typeof inputs.bucket === "string") return inputs.bucket;
        // Most resources' id is their name: roles, instance profiles, functions, log groups, alarms,
        // repositories, autoscaling groups and policies.
        return physical;
    }
  }

  /** The outputs AWS computes for a resource type (what its inputs do not already say). */
  private outputsOf(type: string, name: string, inputs: Record<string, any>, id: string): Record<string, any> {
    const region = inputs.region ?? this.region;
    const account = this.accountId;
    const physical = this.physicalName(name, inputs);
    const [pkg, mod] = type.split(":");
    const service = (mod ?? "").split("/")[0];
    const what = `${type}::${name}`;
    // Parts of ARNs that AWS makes up (a UUID in an autoscaling ARN): from the id under logical ids.
    const made = (prefix = "") => (this.realistic ? `${prefix}${this.uuid(what)}` : `${prefix}${id}`);
    const generic = { arn: `arn:aws:${service}:${region}:${account}:${name}`, name: physical };
    switch (type) {
      case "aws:s3/bucket:Bucket": {
        const bucket = inputs.bucket ?? `${name}-0a1b2c3`.toLowerCase();
        return {
          bucket,
          arn: `arn:aws:s3:::${bucket}`,
          bucketRegionalDomainName: `${bucket}.s3.${region}.amazonaws.com`,
          ...(this.realistic ? { bucketDomainName: `${bucket}.s3.amazonaws.com`, region } : {}),
        };
      }
      case "aws:kms/key:Key":
        return {
          arn: `arn:aws:kms:${region}:${account}:key/${id}`,
          keyId: id,
        };
      case "aws:kms/alias:Alias": {
        const alias = inputs.name ?? `alias/${name}`;
        const target = typeof inputs.targetKeyId === "string" ? inputs.targetKeyId : undefined;
        return {
          arn: `arn:aws:kms:${region}:${account}:${alias}`,
          name: alias,
          ...(this.realistic && target !== undefined ? { targetKeyArn: KMS_KEY_ARN_ANY_ID_PATTERN.test(target) ? target : `arn:aws:kms:${region}:${account}:key/${target}` } : {}),
        };
      }
      case "aws:iam/role:Role":
        return {
          arn: `arn:aws:iam::${account}:role/${physical}`,
          name: physical,
          // A role's unique id: AROA and 17 upper-case letters and digits.
          uniqueId: this.realistic ? `AROA${this.hex(what, 17).toUpperCase()}` : `AROA${id}`,
        };
      case "aws:iam/policy:Policy":
        return {
          arn: `arn:aws:iam::${account}:policy/${physical}`,
          name: physical,
          ...(this.realistic ? { policyId: `ANPA${this.hex(what, 17).toUpperCase()}` } : {}),
        };
      case "aws:iam/instanceProfile:InstanceProfile":
        return {
          arn: `arn:aws:iam::${account}:instance-profile/${physical}`,
          name: physical,
          ...(this.realistic ? { uniqueId: `AIPA${this.hex(what, 17).toUpperCase()}` } : {}),
        };
      case "aws:ecr/repository:Repository":
        return {
          arn: `arn:aws:ecr:${region}:${account}:repository/${physical}`,
          name: physical,
          repositoryUrl: `${account}.dkr.ecr.${region}.amazonaws.com/${physical}`,
          registryId: account,
        };
      case "aws:ecr/lifecyclePolicy:LifecyclePolicy":
        return this.realistic ? { registryId: account } : generic;
      case "docker:index/image:Image": {
        const imageName: string = inputs.imageName ?? `${name}:latest`;
        return { imageName, repoDigest: `${imageName.split(":")[0]}@${imageDigest(imageName)}`, baseImageName: imageName };
      }
      case "aws:autoscaling/group:Group":
        return {
          name: physical,
          arn: `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:${made()}:autoScalingGroupName/${physical}`,
        };
      case "aws:autoscaling/policy:Policy":
        return {
          arn: `arn:aws:autoscaling:${region}:${account}:scalingPolicy:${made()}:autoScalingGroupName/${inputs.autoscalingGroupName}:policyName/${physical}`,
          name: physical,
        };
      case "aws:ec2/launchTemplate:LaunchTemplate":
        return { arn: `arn:aws:ec2:${region}:${account}:launch-template/${this.realistic ? id : `lt-${id}`}`, latestVersion: 1, defaultVersion: 1, name: physical };
      case "aws:ec2/securityGroup:SecurityGroup":
        return {
          arn: `arn:aws:ec2:${region}:${account}:security-group/${this.realistic ? id : `sg-${id}`}`,
          name: physical,
          ...(this.realistic ? { ownerId: account } : {}),
        };
      case "aws:sns/topic:Topic":
        return { arn: `arn:aws:sns:${region}:${account}:${physical}`, name: physical, ...(this.realistic ? { owner: account } : {}) };
      case "aws:sns/topicSubscription:TopicSubscription":
        return this.realistic ? { arn: id, ownerId: account } : generic;
      case "aws:cloudwatch/logGroup:LogGroup":
        return { arn: `arn:aws:logs:${region}:${account}:log-group:${physical}`, name: physical };
      case "aws:cloudwatch/metricAlarm:MetricAlarm":
        return { arn: `arn:aws:cloudwatch:${region}:${account}:alarm:${physical}`, name: physical };
      case "aws:cloudwatch/dashboard:Dashboard":
        return { dashboardArn: `arn:aws:cloudwatch::${account}:dashboard/${inputs.dashboardName ?? name}` };
      case "aws:lambda/function:Function":
        return {
          arn: `arn:aws:lambda:${region}:${account}:function:${physical}`,
          qualifiedArn: `arn:aws:lambda:${region}:${account}:function:${physical}:$LATEST`,
          invokeArn: `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/arn:aws:lambda:${region}:${account}:function:${physical}/invocations`,
          name: physical,
          version: "$LATEST",
          lastModified: "2026-01-01T00:00:00.000+0000",
        };
      case "aws:lambda/invocation:Invocation": {
        // The provider sends the input as the event; it refuses input that is not a JSON object.
        const input = JSON.parse(String(inputs.input)) as unknown;
        if (typeof input !== "object" || input === null || Array.isArray(input)) {
          throw new Error(`fake AWS: lambda.Invocation ${name}: input must be a JSON object, got ${String(inputs.input)}`);
        }
        // A timestamp function over an empty bucket refreshes no model: it returns [].
        return { result: "[]", qualifier: inputs.qualifier ?? "$LATEST" };
      }
      case "aws:scheduler/schedule:Schedule":
        return { arn: `arn:aws:scheduler:${region}:${account}:schedule/${inputs.groupName ?? "default"}/${physical}`, name: physical };
      case "aws:budgets/budget:Budget":
        return { arn: `arn:aws:budgets::${account}:budget/${physical}`, name: physical, accountId: account };
      case "aws:fsx/lustreFileSystem:LustreFileSystem": {
        const fileSystemId = this.realistic ? id : `fs-${id}`;
        return {
          arn: `arn:aws:fsx:${region}:${account}:file-system/${fileSystemId}`,
          dnsName: `${fileSystemId}.fsx.${region}.amazonaws.com`,
          mountName: this.realistic ? this.hex(what, 8).replace(/[0-9]/g, (d) => "abcdefghij"[Number(d)]!) : "abcdefgh",
          ...(this.realistic ? { ownerId: account } : {}),
        };
      }
      case "aws:ssm/parameter:Parameter": {
        const parameter: string = inputs.name ?? `/${name}`;
        // A parameter's ARN has one '/' before its name, whether or not the name starts with one.
        return { arn: `arn:aws:ssm:${region}:${account}:parameter/${parameter.replace(/^\//, "")}`, name: parameter };
      }
      case "awsx:ec2:Vpc": {
        // awsx components are remote: under mocks their children do not exist, so the outputs
        // are answered here, as the real component would resolve them.
        const zones: string[] = inputs.availabilityZoneNames ?? (availabilityZoneLetters(region) ?? ["a", "b", "c"]).map((s) => `${region}${s}`);
        if (this.realistic) {
          return {
            vpcId: `vpc-${this.hex(what, 17)}`,
            publicSubnetIds: zones.map((zone) => `subnet-${this.hex(`${what}:public:${zone}`, 17)}`),
            privateSubnetIds: [],
            isolatedSubnetIds: [],
            subnets: [],
            routeTables: [],
            vpcEndpoints: [],
          };
        }
        return {
          vpcId: `vpc-${name}`,
          publicSubnetIds: zones.map((_, i) => `subnet-${name}-public-${i + 1}`),
          privateSubnetIds: [],
          isolatedSubnetIds: [],
          subnets: [],
          routeTables: [],
          vpcEndpoints: [],
        };
      }
      default:
        if (pkg !== "aws") return {};
        // A resource without an ARN of its own (a bucket policy, an inline role policy) gets none.
        if (this.realistic && WITHOUT_ARN.has(type)) return {};
        return generic;
    }
  }
}

/** The SDK surfaces an invoke failure's `details`, as it does for the engine's gRPC errors. */
function invokeError(message: string): Error {
  return Object.assign(new Error(message), { details: message });
}

/** An image's digest, stable for its name. */
function imageDigest(imageName: string): string {
  return "sha256:" + crypto.createHash("sha256").update(imageName).digest("hex");
}

/** Availability zone letters of a region: the known ones, else a, b and c for any well-formed region. */
function availabilityZoneLetters(region: string): string[] | undefined {
  return AVAILABILITY_ZONES[region] ?? (isAwsRegion(region) ? ["a", "b", "c"] : undefined);
}

/** The prefix of a region's zone ids, as AWS writes them: us-east-1 → use1, ap-northeast-1 → apne1. */
function zoneIdPrefix(region: string): string {
  const DIRECTIONS: Record<string, string> = {
    east: "e",
    west: "w",
    north: "n",
    south: "s",
    central: "c",
    northeast: "ne",
    northwest: "nw",
    southeast: "se",
    southwest: "sw",
  };
  const parts = region.split("-");
  if (parts.length < 3) return region.replace(/-/g, "").slice(0, 4);
  const [country, ...rest] = parts;
  const number = rest.pop();
  return `${country}${rest.map((p) => DIRECTIONS[p] ?? p[0]).join("")}${number}`;
}

/**
 * Longest physical names AWS accepts, for the types this package declares. Pulumi names a
 * resource `<logical name>-<7 random characters>` and refuses, at preview, a logical name that
 * leaves no room for them; AWS refuses an explicit name that is too long.
 */
const NAME_LIMITS: Record<string, { readonly max: number; readonly pattern?: RegExp; readonly field?: string }> = {
  "aws:lambda/function:Function": { max: 64, pattern: /^[A-Za-z0-9_-]+$/ },
  "aws:iam/role:Role": { max: 64, pattern: /^[\w+=,.@-]+$/ },
  "aws:iam/policy:Policy": { max: 128, pattern: /^[\w+=,.@-]+$/ },
  "aws:iam/rolePolicy:RolePolicy": { max: 128, pattern: /^[\w+=,.@-]+$/ },
  "aws:scheduler/schedule:Schedule": { max: 64, pattern: /^[0-9a-zA-Z._-]+$/ },
  "aws:cloudwatch/logGroup:LogGroup": { max: 512, pattern: /^[.\-_/#A-Za-z0-9]+$/ },
  "aws:s3/bucket:Bucket": { max: 63, field: "bucket" },
};

/** Refuses a name the way Pulumi (auto-named) or AWS (explicit) would. */
function refuseInvalidName(type: string, name: string, inputs: Record<string, any>): void {
  const limit = NAME_LIMITS[type];
  if (!limit) return;
  const explicit = inputs[limit.field ?? "name"];
  if (typeof explicit === "string") {
    if (explicit.length > limit.max || (limit.pattern && !limit.pattern.test(explicit))) {
      throw new Error(
        `fake AWS: ${type} ${name}: 1 validation error detected: Value '${explicit}' at 'name' failed to satisfy constraint: ` +
          `Member must have length less than or equal to ${limit.max} and match ${String(limit.pattern ?? "the naming rules")}`,
      );
    }
    return;
  }
  if (inputs.namePrefix !== undefined) return;
  if (name.length + 8 > limit.max) {
    throw new Error(`could not make instance of '${type}': name '${name}-' plus 7 random chars is longer than maximum length ${limit.max}`);
  }
  if (limit.pattern && !limit.pattern.test(`${name}-0a1b2c3`)) {
    throw new Error(`fake AWS: ${type} ${name}: the generated name '${name}-0a1b2c3' has characters AWS does not allow (${String(limit.pattern)})`);
  }
}

/** Base64 SHA-256 over an archive's entries (names and contents), as Lambda's CodeSha256 is over the zip. */
async function archiveDigest(code: unknown): Promise<string> {
  const hash = crypto.createHash("sha256");
  const visit = async (value: any, at: string): Promise<void> => {
    if (value === undefined || value === null) return;
    if (pulumiAsset.Archive.isInstance(value) && (value as any).assets !== undefined) {
      const assets = (await (value as any).assets) as Record<string, unknown>;
      for (const key of Object.keys(assets).sort()) await visit(assets[key], `${at}/${key}`);
      return;
    }
    const text = await (value as any).text;
    const filePath = await (value as any).path;
    hash.update(at);
    if (typeof text === "string") hash.update(text);
    else if (typeof filePath === "string") hash.update(fs.existsSync(filePath) ? fs.readFileSync(filePath) : filePath);
  };
  await visit(code, "");
  return hash.digest("base64");
}
