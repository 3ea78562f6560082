import { execFile } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { timestampFunctionBundlePath } from "../../../components/ota/timestampFunctionCode";
import { channelSignatureKey, signChannelMembership } from "../../../ota/channelMembership";
import { layoutFor, MANIFEST_SCHEMA_VERSION, serializeChannelPointer } from "../../../ota/manifest";
import { LocalKeySigner, publicKeyFingerprint, readPublicKey } from "../../../ota/signature";
import { keysThatSigned, parseEnvelope } from "../../../ota/trust/signedEnvelope";
import { buildTimestamp, signTimestamp, TIMESTAMP_FILE } from "../../../ota/trust/timestampDocument";
import { TIMESTAMP_FUNCTION_ENV } from "../../../ota/trust/timestampFunctionEnv";
import { readTimestampFunctionEnv, retryWhilePermissionsPropagate, S3_FORCE_PATH_STYLE_ENV, TimestampFunctionConfigError } from "../../../ota/trust/timestampLambda";
import { S3Fake, S3RVER_CREDENTIALS } from "../../agent/fakes/s3Fake";
import { KmsFake } from "../fakes/kmsFake";

const BUCKET = "yolo-train-test-ota";
const EARLIER = new Date(Date.now() - 3_600_000);

let s3: S3Fake;
let kms: KmsFake;
let bundle: string;
let home: string;
let prefixCount = 0;
/** Each test has its own models prefix in the one bucket. */
let modelsPrefix: string;
const releaseSigner = LocalKeySigner.generate();

beforeAll(async () => {
  // Built again from the current sources, so the test runs what `npm run build:lambda` would ship.
  bundle = timestampFunctionBundlePath({ rebuild: true });
  s3 = await S3Fake.start([BUCKET]);
  kms = await KmsFake.start();
  home = mkdtempSync(join(tmpdir(), "yolo-train-lambda-home-"));
}, 60_000);
afterAll(async () => {
  await kms.close();
  await s3.close();
  rmSync(home, { recursive: true, force: true });
});
beforeEach(() => {
  modelsPrefix = `t${++prefixCount}/models/`;
  s3.proxy.injectFaults([]);
});

/** Signs `version` into `channel` with the release key and points the channel at it, as a publisher leaves them. */
async function pointAt(modelName: string, channel: string, version: number): Promise<void> {
  const layout = layoutFor(modelsPrefix, modelName);
  await s3.putObject(BUCKET, channelSignatureKey(layout, channel, version), Buffer.from(await signChannelMembership(releaseSigner, modelName, channel, version)));
  const pointer = { schemaVersion: MANIFEST_SCHEMA_VERSION as 1, modelName, channel, version, updatedAt: EARLIER.toISOString() };
  await s3.putObject(BUCKET, layout.channel(channel), serializeChannelPointer(pointer));
}

/**
 * A timestamp the function signed an hour ago (with the KMS key, as the function does). Every model
 * here has one: s3rver 3.7 reports a folder in a `Delimiter` listing only when an object sits
 * directly in it, where S3 reports any folder (timestampRefresh.test.ts covers the first refresh).
 */
async function previousTimestamp(modelName: string, channels: Record<string, number>): Promise<void> {
  const bytes = await signTimestamp(buildTimestamp({ modelName, issuedAt: EARLIER, channels }), new LocalKeySigner(kms.privateKey));
  await s3.putObject(BUCKET, `${modelsPrefix}${modelName}/${TIMESTAMP_FILE}`, bytes);
}

async function functionEnv(): Promise<Record<string, string>> {
  return {
    [TIMESTAMP_FUNCTION_ENV.bucket]: BUCKET,
    [TIMESTAMP_FUNCTION_ENV.modelsPrefix]: modelsPrefix,
    [TIMESTAMP_FUNCTION_ENV.keyId]: kms.keyArn,
    [TIMESTAMP_FUNCTION_ENV.releasePublicKeys]: JSON.stringify([await releaseSigner.publicKeyPem()]),
    [S3_FORCE_PATH_STYLE_ENV]: "true",
  };
}

interface Invocation {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Invokes the bundle's handler in a fresh `node`, with only the environment a Lambda would have
 * (and no AWS config files of this machine): the SDK finds S3 and KMS through the standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables. The handler's result is the last line of stdout.
 */
function invoke(env: Record<string, string>): Promise<Invocation> {
  const script = `require(${JSON.stringify(bundle)}).handler().then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e && e.stack ? e.stack : String(e)); process.exitCode = 1; })`;
  const baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    AWS_CONFIG_FILE: join(home, "no-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "no-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
  };
  return new Promise((resolve) => {
    execFile(process.execPath, ["-e", script], { env: { ...baseEnv, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

function resultOf(invocation: Invocation): unknown {
  const lines = invocation.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

describe("the timestamp Lambda bundle", () => {
  it("re-signs each model's timestamp with the KMS key, from the channels the release key signed", async () => {
    await pointAt("widgets", "stable", 1);
    await pointAt("widgets", "stable", 2);
    await previousTimestamp("widgets", { stable: 1 });
    await pointAt("gadgets", "candidate", 3);
    await previousTimestamp("gadgets", { candidate: 5 });

    const invocation = await invoke(await functionEnv());

    expect(invocation).toMatchObject({ code: 0 });
    const summaries = resultOf(invocation) as { modelName: string; channels: Record<string, number>; issuedAt: string; expires: string }[];
    expect(summaries.map(({ modelName, channels }) => ({ modelName, channels }))).toEqual([
      { modelName: "gadgets", channels: { candidate: 5 } }, // never lower than the previous timestamp
      { modelName: "widgets", channels: { stable: 2 } },
    ]);
    for (const summary of summaries) {
      expect(Date.parse(summary.issuedAt)).toBeGreaterThan(EARLIER.getTime());
      expect(Date.parse(summary.expires) - Date.parse(summary.issuedAt)).toBe(24 * 3_600_000);
      const envelope = parseEnvelope((await s3.getObject(BUCKET, `${modelsPrefix}${summary.modelName}/${TIMESTAMP_FILE}`))!, "timestamp");
      expect(envelope.signed).toEqual({ type: "timestamp", schemaVersion: 1, ...summary });
      expect([...keysThatSigned(envelope, [readPublicKey(kms.publicKeyPem)])]).toEqual([publicKeyFingerprint(kms.publicKeyPem)]);
      // One JSON line per model in the function's log.
      expect(invocation.stdout).toContain(JSON.stringify({ level: "info", ...summary }));
    }
    expect(kms.calls.filter((c) => c.target === "TrentService.Sign")).toHaveLength(2);
    expect(kms.calls.every((c) => c.signed && c.status === 200)).toBe(true);
  });

  it("fails the invocation when a model could not be refreshed, after refreshing the others", async () => {
    await pointAt("widgets", "stable", 2);
    await previousTimestamp("widgets", { stable: 2 });
    await pointAt("gadgets", "stable", 1);
    await previousTimestamp("gadgets", {});
    const unreadable = layoutFor(modelsPrefix, "gadgets").channel("stable");
    s3.proxy.injectFaults([{ requests: 1000, failEvery: 1, status: 500, only: (r) => r.method === "GET" && r.key === unreadable }]);

    const invocation = await invoke({ ...(await functionEnv()), [TIMESTAMP_FUNCTION_ENV.expiresHours]: "12" });

    expect(invocation.code).toBe(1);
    expect(invocation.stderr).toMatch(/TimestampRefreshFailedError: 1 of 2 models' timestamps were not refreshed: gadgets \(/);
    expect(invocation.stdout).toContain('"level":"error","modelName":"gadgets"');
    const widgets = parseEnvelope((await s3.getObject(BUCKET, `${modelsPrefix}widgets/${TIMESTAMP_FILE}`))!, "timestamp").signed as { issuedAt: string; expires: string };
    expect(Date.parse(widgets.issuedAt)).toBeGreaterThan(EARLIER.getTime());
    expect(Date.parse(widgets.expires) - Date.parse(widgets.issuedAt)).toBe(12 * 3_600_000);
  });

  it("refuses to run without its configuration, naming every missing variable", async () => {
    const invocation = await invoke({});
    expect(invocation.code).toBe(1);
    expect(invocation.stderr).toContain("TimestampFunctionConfigError: The timestamp function's environment has 4 problems:");
    for (const name of [TIMESTAMP_FUNCTION_ENV.bucket, TIMESTAMP_FUNCTION_ENV.modelsPrefix, TIMESTAMP_FUNCTION_ENV.keyId, TIMESTAMP_FUNCTION_ENV.releasePublicKeys]) {
      expect(invocation.stderr).toContain(`${name} is not set`);
    }
  });
});

describe("readTimestampFunctionEnv", () => {
  it("reads a valid environment, with the default expiry and an empty models prefix allowed", async () => {
    const env = { ...(await functionEnv()), [TIMESTAMP_FUNCTION_ENV.modelsPrefix]: "" };
    expect(readTimestampFunctionEnv(env)).toEqual({
      bucket: BUCKET,
      modelsPrefix: "",
      keyId: kms.keyArn,
      releasePublicKeys: [await releaseSigner.publicKeyPem()],
      expiresInHours: 24,
      s3ForcePathStyle: true,
    });
  });

  it("reports every invalid variable at once, each by name", () => {
    const env = {
      [TIMESTAMP_FUNCTION_ENV.bucket]: "Not_A_Bucket",
      [TIMESTAMP_FUNCTION_ENV.modelsPrefix]: "models",
      [TIMESTAMP_FUNCTION_ENV.keyId]: "my key",
      [TIMESTAMP_FUNCTION_ENV.releasePublicKeys]: JSON.stringify(["not a pem", 7, releaseSigner.privateKeyPem()]),
      [TIMESTAMP_FUNCTION_ENV.expiresHours]: "1.5",
      [S3_FORCE_PATH_STYLE_ENV]: "yes",
    };
    let error: unknown;
    try {
      readTimestampFunctionEnv(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TimestampFunctionConfigError);
    expect((error as TimestampFunctionConfigError).problems).toEqual([
      expect.stringMatching(/^YOLO_TRAIN_OTA_BUCKET="Not_A_Bucket": must be an S3 bucket name/),
      expect.stringMatching(/^YOLO_TRAIN_MODELS_PREFIX="models": must be "" or a prefix ending with "\/"/),
      expect.stringMatching(/^YOLO_TRAIN_TIMESTAMP_KEY_ID="my key": must be a KMS key ARN/),
      expect.stringMatching(/^YOLO_TRAIN_RELEASE_PUBLIC_KEYS\[0\]: The public key is not a readable PEM public key/),
      "YOLO_TRAIN_RELEASE_PUBLIC_KEYS[1]: must be a PEM string",
      expect.stringMatching(/^YOLO_TRAIN_RELEASE_PUBLIC_KEYS\[2\]: The pinned key is a private key/),
      expect.stringMatching(/^YOLO_TRAIN_TIMESTAMP_EXPIRES_HOURS="1.5": must be a whole number of hours from 1 to 168/),
      'YOLO_TRAIN_S3_FORCE_PATH_STYLE="yes": must be "true" or "false"',
    ]);
    expect(() => readTimestampFunctionEnv({ ...env, [TIMESTAMP_FUNCTION_ENV.expiresHours]: "169" })).toThrow(/YOLO_TRAIN_TIMESTAMP_EXPIRES_HOURS="169": must be a whole number/);
    expect(() => readTimestampFunctionEnv({ ...env, [TIMESTAMP_FUNCTION_ENV.releasePublicKeys]: "[]" })).toThrow(/YOLO_TRAIN_RELEASE_PUBLIC_KEYS: must be a non-empty JSON array/);
    expect(() => readTimestampFunctionEnv({ ...env, [TIMESTAMP_FUNCTION_ENV.releasePublicKeys]: "-----BEGIN PUBLIC KEY-----" })).toThrow(/YOLO_TRAIN_RELEASE_PUBLIC_KEYS: is not JSON/);
  });
});

describe("retryWhilePermissionsPropagate", () => {
  const refreshed = { modelName: "widgets", channels: {}, issuedAt: "2026-12-04T12:00:00.000Z", expires: "2026-12-05T12:00:00.000Z" };
  const denied = { modelName: "widgets", error: "AccessDenied: User: arn:aws:sts::111122223333:assumed-role/x is not authorized to perform: kms:Sign" };

  it("tries again while every failure is an access denial (a new role policy not in effect yet), then returns what succeeded", async () => {
    const outcomes = [[denied], [denied], [refreshed]];
    const waits: number[] = [];
    const result = await retryWhilePermissionsPropagate(async () => outcomes.shift()!, { delaysMs: [1, 2, 3], sleep: async (ms) => void waits.push(ms) });
    expect(result).toEqual([refreshed]);
    expect(waits).toEqual([1, 2]);
  });

  it("gives up after the last wait and hands back the denial; other failures are not retried", async () => {
    let calls = 0;
    expect(await retryWhilePermissionsPropagate(async () => (calls++, [denied]), { delaysMs: [1], sleep: async () => undefined })).toEqual([denied]);
    expect(calls).toBe(2);
    calls = 0;
    const other = { modelName: "widgets", error: "SlowDown" };
    expect(await retryWhilePermissionsPropagate(async () => (calls++, [other]), { delaysMs: [1], sleep: async () => undefined })).toEqual([other]);
    expect(calls).toBe(1);
    await expect(
      retryWhilePermissionsPropagate(async () => {
        calls++;
        throw Object.assign(new Error("no such bucket"), { name: "NoSuchBucket" });
      }, { delaysMs: [1], sleep: async () => undefined }),
    ).rejects.toThrow("no such bucket");
  });
});
