/**
 * `yolo-train/testing`: offline AWS mocks for unit tests of programs built on yolo-train's
 * components, with no Pulumi engine and no AWS account.
 *
 * {@link installAwsMocks} sets Pulumi's mocks (`pulumi.runtime.setMocks`) to a pretend AWS
 * account that answers as AWS would: realistic ARNs and ids (`arn:aws:kms:us-east-1:123456789012:key/<uuid>`,
 * `vpc-` and 17 hex digits, a role's id is its name), a real P-256 public key for every KMS key
 * (KeySpec `ECC_NIST_P256`, KeyUsage `SIGN_VERIFY`), and the invokes the components make
 * (`aws:index/getCallerIdentity`, `getPartition`, `getRegion`, `getAvailabilityZones`, the AMI's
 * SSM parameter, `kms/getPublicKey`, `ecr/getAuthorizationToken`). It refuses what AWS or
 * `pulumi preview` would refuse: names too long or with characters AWS does not allow, an
 * invoke it does not know, a KMS key id that is not a key id. So the shape checks of the
 * components (ARN patterns, key specs) pass under these mocks exactly when they would pass
 * against AWS, and generic mock values (`"arn"`, `"key-id"`) are not needed.
 *
 * @example
 * // my-platform.test.ts (jest)
 * import { TrainingRun } from "yolo-train";
 * import { parseExperimentConfig } from "yolo-train/config";
 * import { arnPattern, installAwsMocks, valueOf, type AwsMocks } from "yolo-train/testing";
 *
 * let mocks: AwsMocks;
 * beforeEach(() => {
 *   mocks = installAwsMocks({ stack: "dev", region: "us-east-1" });
 * });
 * afterEach(() => mocks.settle());
 *
 * it("builds one VPC for a run", async () => {
 *   const config = parseExperimentConfig({ stage: "debug" }, { project: mocks.project, stack: mocks.stack, region: mocks.region });
 *   const run = new TrainingRun("exp", { config });
 *   expect(await valueOf(run.nodeGroup.groupArn)).toMatch(arnPattern("autoscaling"));
 *   await mocks.settle();
 *   expect(mocks.ofType("awsx:ec2:Vpc")).toHaveLength(1);
 *   expect(mocks.single("aws:autoscaling/group:Group").outputs?.arn).toMatch(arnPattern("autoscaling"));
 * });
 *
 * @module
 */
import type * as pulumi from "@pulumi/pulumi";
import { FAKE_ACCOUNT_ID, FAKE_PARTITION, FAKE_REGION, type RecordedResource } from "../offline/fakeAws";
import { OfflineRuntime, valueOf as offlineValueOf } from "../offline/offlineRuntime";
import { isAwsAccountId, isAwsRegion } from "../runspec/awsPatterns";

export { FAKE_ACCOUNT_ID, FAKE_PARTITION, FAKE_REGION };
export { FakeAws, type FakeAwsOptions } from "../offline/fakeAws";
export { arnPattern, arnService, type ArnPatternOptions } from "./arns";

/** Where the pretend account runs the program. Every option has a default. */
export interface AwsMocksOptions {
  /** The 12-digit account of every ARN and of `getCallerIdentity`. @default {@link FAKE_ACCOUNT_ID} ("123456789012") */
  readonly accountId?: string;
  /** The region of the account, answered by `getRegion` and set as the `aws:region` config. @default {@link FAKE_REGION} ("us-east-1") */
  readonly region?: string;
  /** `pulumi.getProject()`. @default "yolo-train" */
  readonly project?: string;
  /** `pulumi.getStack()`; names of account-wide resources derive from it. @default "test" */
  readonly stack?: string;
  /**
   * Stack config as `pulumi config` holds it, `namespace:key` → text (objects as JSON text),
   * e.g. `{ "yolo-train:stage": "debug" }`. `aws:region` defaults to `region`.
   * @default {}
   */
  readonly config?: Readonly<Record<string, string>>;
  /** Keys of `config` held as secrets, e.g. `["yolo-train:tracking"]`. @default [] */
  readonly secretKeys?: readonly string[];
  /** Run as `pulumi preview` does: `pulumi.runtime.isDryRun()` is true. @default false */
  readonly preview?: boolean;
  /**
   * Other stacks' outputs by fully qualified name, answered to `pulumi.StackReference`: e.g. a
   * platform stack's `{ "acme/vision-platform/prod": { visionFleet: { … } } }` for
   * `Fleet.fromStackReference`. A reference to a stack not listed fails as Pulumi's would.
   * @default {}
   */
  readonly stackOutputs?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * A resource the program registered: what it declared (`inputs`), under which parent, and what
 * the pretend account answered (`id`, `outputs`: the inputs plus `arn`, `keyId`, ...).
 */
export type MockResource = RecordedResource;

/** A provider function (invoke) the program called, e.g. `aws:kms/getPublicKey:getPublicKey`. */
export interface MockInvoke {
  readonly token: string;
  readonly inputs: Record<string, any>;
}

/** What {@link installAwsMocks} returns: the pretend account, and what was registered in it. */
export interface AwsMocks {
  readonly accountId: string;
  readonly region: string;
  readonly project: string;
  readonly stack: string;
  /** Every resource registered since this install, in order (components included). */
  readonly resources: readonly MockResource[];
  /** Every invoke made since this install, in order. */
  readonly invokes: readonly MockInvoke[];
  /** Resources of one type token, e.g. `aws:s3/bucket:Bucket`, `awsx:ec2:Vpc`, `yolo-train:run:TrainingRun`. */
  ofType(type: string): MockResource[];
  /** The one resource of a type; throws when there are none or several. */
  single(type: string): MockResource;
  /** The one resource with this logical name; throws when there are none or several. */
  named(name: string): MockResource;
  /** The one resource of this type with this logical name; throws when there are none or several. */
  named(type: string, name: string): MockResource;
  /** Direct children of a resource (by URN or record); `undefined` gives the resources without a parent. */
  childrenOf(parent: string | MockResource | undefined): MockResource[];
  /**
   * Resolves once the program has stopped registering: Pulumi's outstanding calls are done and
   * nothing new registered for a few turns of the event loop (components declare some children
   * inside `apply`, after the outputs a test awaited). Await it before asserting on `resources`,
   * and before the next {@link installAwsMocks}, so that a test's late registrations do not
   * land in the next test's mocks.
   */
  settle(): Promise<void>;
}

/**
 * Sets Pulumi's mocks to a fresh pretend AWS account and returns it. Call it before declaring
 * any resource (in `beforeAll` or `beforeEach`): each call replaces the previous mocks, so
 * resources, invokes and config start empty, and nothing leaks from one install to the next.
 * The mocks are in place when it returns.
 *
 * Ids and ARNs are stable for the same account, region, type and logical name, so assertions
 * and snapshots do not change from run to run.
 *
 * @throws Error when `accountId` is not 12 digits or `region` is not a region name like us-east-1.
 * @example
 * const mocks = installAwsMocks({ stack: "dev" });
 * const ota = new OtaBucket("ota", {});
 * expect(await valueOf(ota.signingKeyArn)).toMatch(arnPattern("kms"));
 */
export function installAwsMocks(options: AwsMocksOptions = {}): AwsMocks {
  const region = options.region ?? options.config?.["aws:region"] ?? FAKE_REGION;
  const accountId = options.accountId ?? FAKE_ACCOUNT_ID;
  const problems: string[] = [];
  if (!isAwsRegion(region)) problems.push(`region ${JSON.stringify(region)} is not an AWS region name like ${FAKE_REGION}`);
  if (!isAwsAccountId(accountId)) problems.push(`accountId ${JSON.stringify(accountId)} is not an AWS account id (12 digits, e.g. ${FAKE_ACCOUNT_ID})`);
  for (const key of ["project", "stack"] as const) {
    const value = options[key];
    if (value !== undefined && value.trim() === "") problems.push(`${key} must not be empty`);
  }
  if (problems.length > 0) throw new Error(`installAwsMocks: ${problems.join("; ")}`);
  return OfflineRuntime.install({
    region,
    accountId,
    ids: "realistic",
    project: options.project ?? "yolo-train",
    stack: options.stack ?? "test",
    config: { ...(options.config ?? {}), "aws:region": region },
    secretKeys: options.secretKeys ?? [],
    preview: options.preview ?? false,
    stackOutputs: options.stackOutputs ?? {},
  });
}

/**
 * The value of an output (or any input) once the mocks have resolved it, for `expect`.
 * Rejects with the component's error when the output failed (a value refused inside `apply`);
 * under `preview`, a value not known until deployment is `undefined`.
 *
 * @example
 * expect(await valueOf(run.ota.signingKeyArn)).toMatch(arnPattern("kms"));
 */
export function valueOf<T>(output: pulumi.Input<T> | pulumi.Output<T>): Promise<T> {
  return offlineValueOf(output);
}
