import * as crypto from "crypto";
import * as fs from "fs";
import type * as pulumi from "@pulumi/pulumi";
import { asset as pulumiAsset } from "@pulumi/pulumi";

/**
 * A pretend AWS account for Pulumi's mock runtime: answers the provider functions (invokes)
 * this package calls, and gives each declared resource the outputs AWS would (ids, ARNs,
 * names, URLs). Used by `npm run plan` and by the tests, so both see the same cloud.
 *
 * An invoke it does not know is an error, never a silent empty answer: a new data source in
 * the components must be added here on purpose, with a plausible answer.
 */
export const FAKE_ACCOUNT_ID = "123456789012";

/** The public SSM parameter of the Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023); defined with the node group. */
import { DLAMI_SSM_PARAMETER } from "../components/dlami";
export { DLAMI_SSM_PARAMETER };

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
}

export interface FakeAwsOptions {
  readonly region: string;
}

/** Pulumi mocks backed by the pretend account. `invokes` lists every invoke token answered. */
export class FakeAws implements pulumi.runtime.Mocks {
  readonly region: string;
  /** Every invoke made, in order: token and inputs. */
  readonly invokes: { token: string; inputs: Record<string, any> }[] = [];
  /** Invoke tokens it was asked for and could not answer. */
  readonly unknownInvokes: string[] = [];
  /** A real P-256 key pair per KMS key, so each key's public key output is a real PEM of its own. */
  private readonly keyPairs = new Map<string, crypto.KeyPairKeyObjectResult>();

  constructor(options: FakeAwsOptions) {
    this.region = options.region;
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    this.invokes.push({ token: args.token, inputs: args.inputs });
    const region = args.inputs?.region ?? this.region;
    switch (args.token) {
      case "aws:index/getRegion:getRegion":
        return { id: region, name: region, region, description: region, endpoint: `ec2.${region}.amazonaws.com` };
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return {
          id: FAKE_ACCOUNT_ID,
          accountId: FAKE_ACCOUNT_ID,
          arn: `arn:aws:iam::${FAKE_ACCOUNT_ID}:user/offline-plan`,
          userId: "AIDAOFFLINEPLAN",
        };
      case "aws:index/getPartition:getPartition":
        return { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" };
      case "aws:index/getAvailabilityZones:getAvailabilityZones": {
        const suffixes = AVAILABILITY_ZONES[region];
        if (!suffixes) throw new Error(`fake AWS: no availability zones known for region ${region}`);
        return {
          id: region,
          names: suffixes.map((s) => `${region}${s}`),
          zoneIds: suffixes.map((_, i) => `${region.replace(/-/g, "").slice(0, 4)}-az${i + 1}`),
          groupNames: [region],
        };
      }
      case "aws:ssm/getParameter:getParameter":
        if (args.inputs.name !== DLAMI_SSM_PARAMETER) {
          throw new Error(`fake AWS: unknown SSM parameter ${args.inputs.name}`);
        }
        return {
          id: args.inputs.name,
          name: args.inputs.name,
          arn: `arn:aws:ssm:${region}::parameter${args.inputs.name}`,
          type: "String",
          value: "ami-0dla0base0gpu0al23",
          insecureValue: "ami-0dla0base0gpu0al23",
          version: 1,
        };
      case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
        return {
          id: region,
          authorizationToken: Buffer.from("AWS:offline-token").toString("base64"),
          userName: "AWS",
          password: "offline-token",
          proxyEndpoint: `https://${FAKE_ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com`,
          expiresAt: "2099-01-01T00:00:00Z",
        };
      case "aws:kms/getPublicKey:getPublicKey": {
        const pair = this.keyPair(args.inputs.keyId);
        const pem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
        return {
          id: args.inputs.keyId,
          keyId: args.inputs.keyId,
          arn: args.inputs.keyId,
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
        // The SDK surfaces an invoke failure's `details`, as it does for the engine's gRPC errors.
        throw Object.assign(new Error(message), { details: message });
      }
    }
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

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } | Promise<{ id: string; state: Record<string, any> }> {
    this.declaredInputs.set(`${args.type}::${args.name}`, args.inputs);
    refuseInvalidName(args.type, args.name, args.inputs);
    const id = args.id || `${args.name}-id`;
    const state = { ...args.inputs, ...this.outputsOf(args.type, args.name, args.inputs, id) };
    if (args.type === "aws:lambda/function:Function") {
      // What Lambda reports for the deployment package: base64 SHA-256, read off the archive.
      return archiveDigest(args.inputs.code).then((codeSha256) => ({ id, state: { ...state, codeSha256, sourceCodeHash: codeSha256 } }));
    }
    return { id, state };
  }

  /** The outputs AWS computes for a resource type (what its inputs do not already say). */
  private outputsOf(type: string, name: string, inputs: Record<string, any>, id: string): Record<string, any> {
    const region = inputs.region ?? this.region;
    const account = FAKE_ACCOUNT_ID;
    const physical = inputs.name ?? `${name}-0a1b2c3`;
    const [pkg, mod] = type.split(":");
    const service = (mod ?? "").split("/")[0];
    const generic = { arn: `arn:aws:${service}:${region}:${account}:${name}`, name: physical };
    switch (type) {
      case "aws:s3/bucket:Bucket": {
        const bucket = inputs.bucket ?? `${name}-0a1b2c3`.toLowerCase();
        return { bucket, arn: `arn:aws:s3:::${bucket}`, bucketRegionalDomainName: `${bucket}.s3.${region}.amazonaws.com` };
      }
      case "aws:kms/key:Key":
        return {
          arn: `arn:aws:kms:${region}:${account}:key/${id}`,
          keyId: id,
        };
      case "aws:kms/alias:Alias":
        return { arn: `arn:aws:kms:${region}:${account}:${inputs.name ?? `alias/${name}`}`, name: inputs.name ?? `alias/${name}` };
      case "aws:iam/role:Role":
        return { arn: `arn:aws:iam::${account}:role/${physical}`, name: physical, uniqueId: `AROA${id}` };
      case "aws:iam/policy:Policy":
        return { arn: `arn:aws:iam::${account}:policy/${physical}`, name: physical };
      case "aws:iam/instanceProfile:InstanceProfile":
        return { arn: `arn:aws:iam::${account}:instance-profile/${physical}`, name: physical };
      case "aws:ecr/repository:Repository":
        return {
          arn: `arn:aws:ecr:${region}:${account}:repository/${physical}`,
          name: physical,
          repositoryUrl: `${account}.dkr.ecr.${region}.amazonaws.com/${physical}`,
          registryId: account,
        };
      case "docker:index/image:Image": {
        const imageName: string = inputs.imageName ?? `${name}:latest`;
        const digest = "sha256:" + crypto.createHash("sha256").update(imageName).digest("hex");
        return { imageName, repoDigest: `${imageName.split(":")[0]}@${digest}`, baseImageName: imageName };
      }
      case "aws:autoscaling/group:Group":
        return {
          name: physical,
          arn: `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:${id}:autoScalingGroupName/${physical}`,
        };
      case "aws:autoscaling/policy:Policy":
        return { arn: `arn:aws:autoscaling:${region}:${account}:scalingPolicy:${id}:autoScalingGroupName/${inputs.autoscalingGroupName}:policyName/${physical}`, name: physical };
      case "aws:ec2/launchTemplate:LaunchTemplate":
        return { arn: `arn:aws:ec2:${region}:${account}:launch-template/lt-${id}`, latestVersion: 1, defaultVersion: 1, name: physical };
      case "aws:ec2/securityGroup:SecurityGroup":
        return { arn: `arn:aws:ec2:${region}:${account}:security-group/sg-${id}`, name: physical };
      case "aws:sns/topic:Topic":
        return { arn: `arn:aws:sns:${region}:${account}:${physical}`, name: physical };
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
        return { arn: `arn:aws:scheduler:${region}:${account}:schedule/default/${physical}`, name: physical };
      case "aws:budgets/budget:Budget":
        return { arn: `arn:aws:budgets::${account}:budget/${physical}`, name: physical, accountId: account };
      case "aws:fsx/lustreFileSystem:LustreFileSystem":
        return {
          arn: `arn:aws:fsx:${region}:${account}:file-system/fs-${id}`,
          dnsName: `fs-${id}.fsx.${region}.amazonaws.com`,
          mountName: "abcdefgh",
        };
      case "aws:ssm/parameter:Parameter":
        return { arn: `arn:aws:ssm:${region}:${account}:parameter${inputs.name ?? `/${name}`}`, name: inputs.name ?? `/${name}` };
      case "awsx:ec2:Vpc": {
        // awsx components are remote: under mocks their children do not exist, so the outputs
        // are answered here, as the real component would resolve them.
        const zones: string[] = inputs.availabilityZoneNames ?? AVAILABILITY_ZONES[region]!.map((s) => `${region}${s}`);
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
        return pkg === "aws" ? generic : {};
    }
  }
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
