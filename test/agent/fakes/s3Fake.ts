import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { S3FaultProxy, type S3FaultProxyOptions } from "./s3FaultProxy";

/** The part of s3rver 3.7's API used here (the package ships no types). */
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  resetOnClose: boolean;
}) => S3rverInstance;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as S3rverConstructor;

/** s3rver accepts exactly these credentials; it checks SigV4 signatures made with them. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** An S3 client for a local endpoint: path-style, s3rver credentials. */
export function localS3Client(endpoint: string, region = "us-east-1"): S3Client {
  return new S3Client({ region, endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
}

/**
 * Local S3: s3rver on 127.0.0.1 (a free port) over a temporary folder, behind
 * {@link S3FaultProxy}, which is the endpoint clients use ({@link S3Fake.endpoint}): it decodes
 * aws-chunked bodies and checks checksums as S3 does (s3rver does neither), records every
 * request and injects faults on demand. Buckets are created through the real S3 client.
 * `client` talks to s3rver directly, bypassing the proxy, so a test reads what S3 really holds
 * without showing up in the proxy's record.
 */
export class S3Fake {
  /** Straight to s3rver: for the test's own reads and seeding. */
  readonly client: S3Client;

  private constructor(
    private readonly server: S3rverInstance,
    readonly directEndpoint: string,
    readonly proxy: S3FaultProxy,
    private readonly directory: string,
  ) {
    this.client = localS3Client(directEndpoint);
  }

  /** `versioning`: the proxy keeps every version of every object, as a bucket with versioning enabled (S3FaultProxyOptions). */
  static async start(buckets: readonly string[], options: S3FaultProxyOptions = {}): Promise<S3Fake> {
    const directory = mkdtempSync(join(tmpdir(), "yolo-train-s3rver-"));
    const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, resetOnClose: true });
    const { port } = await server.run();
    const directEndpoint = `http://127.0.0.1:${port}`;
    const proxy = await S3FaultProxy.start(directEndpoint, options);
    const fake = new S3Fake(server, directEndpoint, proxy, directory);
    for (const bucket of buckets) await fake.client.send(new CreateBucketCommand({ Bucket: bucket }));
    return fake;
  }

  /** The S3 endpoint for clients under test (`AWS_ENDPOINT_URL_S3`): the proxy. */
  get endpoint(): string {
    return this.proxy.endpoint;
  }

  /** Every key in the bucket (under `prefix`), sorted. */
  async listKeys(bucket: string, prefix = ""): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  /** The object's bytes, or undefined when there is no such key. */
  async getObject(bucket: string, key: string): Promise<Buffer | undefined> {
    return (await this.getObjectWithMetadata(bucket, key))?.bytes;
  }

  /** The object's bytes and user metadata, or undefined when there is no such key. */
  async getObjectWithMetadata(bucket: string, key: string): Promise<{ bytes: Buffer; metadata: Record<string, string> } | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { bytes: Buffer.from(await answer.Body!.transformToByteArray()), metadata: answer.Metadata ?? {} };
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === "NoSuchKey" || name === "NotFound") return undefined;
      throw error;
    }
  }

  async getJson<T>(bucket: string, key: string): Promise<T | undefined> {
    const bytes = await this.getObject(bucket, key);
    return bytes === undefined ? undefined : (JSON.parse(bytes.toString("utf8")) as T);
  }

  async putObject(bucket: string, key: string, body: Buffer | string, metadata?: Record<string, string>): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(metadata ? { Metadata: metadata } : {}) }));
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.proxy.close();
    await this.server.close();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
