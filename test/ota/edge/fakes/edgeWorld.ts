import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "crypto";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { layoutFor, MANIFEST_SCHEMA_VERSION, serializeChannelPointer, serializeManifest, type ModelRuntimeInput } from "../../../../ota/manifest";
import { pointChannel, publishRelease } from "../../../../ota/publisher";
import { LocalKeySigner, type ManifestSigner } from "../../../../ota/signature";
import { pullModel, type PullOptions } from "../../../../ota/edge/puller";
import { S3ModelSource } from "../../../../ota/edge/s3ModelSource";
import { localS3Client, S3Fake } from "../../../agent/fakes/s3Fake";
import { CountingProxy } from "./countingProxy";

export const BUCKET = "ota-bucket";
export const MODELS_PREFIX = "models/";
export const MODEL = "widgets";

export interface PublishOptions {
  /** @default random bytes */
  readonly onnx?: Buffer;
  /** Also publish a model.pt. @default random bytes; null: none */
  readonly pt?: Buffer | null;
  /** Channels to point at the release. @default ["stable"] */
  readonly channels?: readonly string[];
  readonly signer?: ManifestSigner;
  readonly now?: Date;
  readonly expiresInDays?: number;
  /**
   * The manifest's `runtime`; null: a release as publishers wrote them before `runtime` existed
   * (the manifest without it, signed by the same key).
   * @default {@link RUNTIME}
   */
  readonly runtime?: ModelRuntimeInput | null;
}

/** What the agent's publisher writes for a YOLOv8n export at opset 17. */
export const RUNTIME: ModelRuntimeInput = { format: "onnx", opset: 17, inputShape: [1, 3, 640, 640], outputShape: [1, 84, 8400], nms: false, verifiedWith: { name: "onnxruntime", version: "1.20.1" } };

export interface Published {
  readonly version: number;
  readonly onnx: Buffer;
  readonly pt: Buffer | undefined;
}

/**
 * The OTA bucket in s3rver (behind the S3 fault proxy, as the publisher needs it) with a
 * counting proxy in front for the puller, a publisher with its own P-256 key, and temporary
 * folders for edge destinations.
 */
export class EdgeWorld {
  readonly layout = layoutFor(MODELS_PREFIX, MODEL);
  /** The publisher's client (through the fault proxy). */
  readonly publisherS3: S3Client;
  /** The puller's client (through the counting proxy). */
  readonly pullerS3: S3Client;

  private constructor(
    readonly fake: S3Fake,
    readonly proxy: CountingProxy,
    readonly root: string,
    readonly signer: LocalKeySigner,
    /** The key edge boxes pin. */
    readonly publicKeyPem: string,
  ) {
    this.publisherS3 = localS3Client(fake.endpoint);
    this.pullerS3 = localS3Client(proxy.endpoint);
  }

  static async start(): Promise<EdgeWorld> {
    const fake = await S3Fake.start([BUCKET]);
    const proxy = await CountingProxy.start(fake.endpoint);
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "yolo-train-edge-"));
    const signer = LocalKeySigner.generate();
    return new EdgeWorld(fake, proxy, root, signer, await signer.publicKeyPem());
  }

  /** Publishes a release with the world's signer (or `options.signer`) and points channels at it. */
  async publish(options: PublishOptions = {}): Promise<Published> {
    const onnx = options.onnx ?? randomBytes(64 * 1024 + 17);
    const pt = options.pt === null ? undefined : (options.pt ?? randomBytes(32 * 1024 + 5));
    const dir = await fs.mkdtemp(path.join(this.root, "release-"));
    const files = [{ path: "model.onnx", localPath: path.join(dir, "model.onnx") }];
    await fs.writeFile(files[0]!.localPath, onnx);
    if (pt) {
      files.push({ path: "model.pt", localPath: path.join(dir, "model.pt") });
      await fs.writeFile(files[1]!.localPath, pt);
    }
    const release = await publishRelease({
      s3: this.publisherS3,
      bucket: BUCKET,
      modelsPrefix: MODELS_PREFIX,
      modelName: MODEL,
      signer: options.signer ?? this.signer,
      files,
      runId: `yolov8n-${MODEL}-${randomBytes(5).toString("hex")}`,
      metrics: { "metrics/mAP50-95(B)": 0.6 },
      inputSize: 640,
      classNames: ["pallet", "box"],
      runtime: options.runtime ?? RUNTIME,
      ...(options.now ? { now: options.now } : {}),
      ...(options.expiresInDays !== undefined ? { expiresInDays: options.expiresInDays } : {}),
    });
    if (options.runtime === null) {
      // Today's publisher always writes runtime: rewrite the release as an older one left it.
      const { runtime: _dropped, ...older } = release.manifest;
      const bytes = serializeManifest(older);
      await this.fake.putObject(BUCKET, release.manifestKey, bytes);
      await this.fake.putObject(BUCKET, release.signatureKey, await (options.signer ?? this.signer).sign(bytes));
    }
    for (const channel of options.channels ?? ["stable"]) {
      await pointChannel({ s3: this.publisherS3, bucket: BUCKET, layout: release.layout, channel, version: release.version, signer: options.signer ?? this.signer });
    }
    return { version: release.version, onnx, pt };
  }

  /** Writes a channel pointer directly, as someone with write access to the bucket could (publishers only move forward). */
  async setPointer(channel: string, version: number): Promise<void> {
    const pointer = { schemaVersion: MANIFEST_SCHEMA_VERSION as 1, modelName: MODEL, channel, version, updatedAt: new Date().toISOString() };
    await this.fake.putObject(BUCKET, this.layout.channel(channel), serializeChannelPointer(pointer));
  }

  async getObject(key: string): Promise<Buffer> {
    const bytes = await this.fake.getObject(BUCKET, key);
    if (!bytes) throw new Error(`no object ${key}`);
    return bytes;
  }

  async putObject(key: string, bytes: Buffer): Promise<void> {
    await this.fake.putObject(BUCKET, key, bytes);
  }

  async deleteObject(key: string): Promise<void> {
    await this.fake.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
  }

  source(): S3ModelSource {
    return new S3ModelSource({ bucket: BUCKET, modelsPrefix: MODELS_PREFIX, modelName: MODEL, client: this.pullerS3 });
  }

  /** A path for a new destination folder (not created). */
  async newDest(): Promise<string> {
    return path.join(await fs.mkdtemp(path.join(this.root, "box-")), "widgets");
  }

  pull(dest: string, extra: Partial<PullOptions> = {}) {
    return pullModel({ source: this.source(), modelName: MODEL, channel: "stable", publicKeyPem: this.publicKeyPem, dest, ...extra });
  }

  async close(): Promise<void> {
    this.publisherS3.destroy();
    this.pullerS3.destroy();
    await this.proxy.close();
    await this.fake.close();
    await fs.rm(this.root, { recursive: true, force: true });
  }
}

/**
 * Everything in a folder: each file's sha256, each link's target, each folder, by relative path.
 * Equal snapshots mean nothing changed (the `.lock` file of a finished run is gone anyway).
 */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const full = path.join(dir, rel);
    let entries: string[];
    try {
      entries = await fs.readdir(full);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const name of entries.sort()) {
      const relative = rel === "" ? name : `${rel}/${name}`;
      const stat = await fs.lstat(path.join(dir, relative));
      if (stat.isSymbolicLink()) out[relative] = `-> ${await fs.readlink(path.join(dir, relative))}`;
      else if (stat.isDirectory()) {
        out[relative] = "dir";
        await walk(relative);
      } else out[relative] = createHash("sha256").update(await fs.readFile(path.join(dir, relative))).digest("hex");
    }
  };
  await walk("");
  return out;
}

/** The version `<dest>/current` points at, from the link itself. */
export async function currentLinkTarget(dest: string): Promise<string> {
  return fs.readlink(path.join(dest, "current"));
}
