import { GetObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { Readable } from "stream";
import { layoutFor } from "../manifest";
import { EdgeUsageError, SourceError } from "./errors";
import type { ModelSource, ObjectBody } from "./modelSource";

/** Where the model's releases are in S3, and how to reach them. */
export interface S3ModelSourceOptions {
  /** The OTA bucket (stack output `otaBucketName`). */
  readonly bucket: string;
  /**
   * The models prefix of the OTA bucket (`OtaBucket.modelsPrefix`): `""` or ending with `/`. Not
   * the stack output `otaPrefix`, which already ends with the model's name.
   * @default "models/"
   */
  readonly modelsPrefix?: string;
  readonly modelName: string;
  /**
   * The client to use.
   * @default an `S3Client` configured the standard way: region and credentials from the
   * environment, profile or instance role; `AWS_ENDPOINT_URL_S3` honoured; sockets time out after
   * 60 s without data.
   */
  readonly client?: S3Client;
  /**
   * Settings for the client this source creates when `client` is not given (`region`,
   * `forcePathStyle` for S3-compatible stores, …).
   * @default {}
   */
  readonly clientConfig?: S3ClientConfig;
}

/** The default models prefix, as `OtaBucket` uses it. */
export const DEFAULT_MODELS_PREFIX = "models/";

/**
 * Reads releases from the OTA bucket with `GetObject`, each a range request for what the puller
 * may read (the declared length and one byte more). Needs only `s3:GetObject` (and
 * `s3:ListBucket`, so a missing key is a 404 rather than a 403) on the models prefix: the stack's
 * `edgeReadPolicyArn` grants exactly that.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
 */
export class S3ModelSource implements ModelSource {
  readonly location: string;
  private readonly bucket: string;
  private readonly modelPrefix: string;
  private readonly client: S3Client;
  private readonly ownsClient: boolean;

  constructor(options: S3ModelSourceOptions) {
    this.bucket = options.bucket;
    try {
      this.modelPrefix = layoutFor(options.modelsPrefix ?? DEFAULT_MODELS_PREFIX, options.modelName).modelPrefix;
    } catch (error) {
      throw new EdgeUsageError(`Invalid S3 location: ${(error as Error).message}`);
    }
    this.location = `s3://${this.bucket}/${this.modelPrefix}`;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new S3Client({ requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 }, ...options.clientConfig });
  }

  async open(key: string, maxBytes: number): Promise<ObjectBody> {
    const where = `${this.location}${key}`;
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: `${this.modelPrefix}${key}`, Range: `bytes=0-${maxBytes - 1}` }));
      const stream = answer.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
      if (!stream) return emptyBody();
      return { chunks: stream, abort: () => stream.destroy() };
    } catch (error) {
      const name = (error as { name?: string }).name ?? "";
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // A range starting at byte 0 is unsatisfiable only for an empty object.
      if (name === "InvalidRange" || status === 416) return emptyBody();
      if (/region is missing/i.test((error as Error).message ?? "")) {
        throw new EdgeUsageError("No AWS region is configured: pass --region (the OTA bucket's region) or set AWS_REGION.");
      }
      if (name === "NoSuchBucket") {
        throw new SourceError(`${where}: the bucket ${this.bucket} does not exist (check it against the stack output otaBucketName).`, false, { cause: error });
      }
      if (name === "NoSuchKey" || name === "NotFound" || status === 404) {
        throw new SourceError(`${where} does not exist.`, true, { cause: error });
      }
      if (name === "AccessDenied" || status === 403) {
        throw new SourceError(
          `${where}: access denied. Either the key does not exist (S3 answers 403 for a missing key when the caller may not list the prefix) or these credentials may not read it: give them the stack's edgeReadPolicyArn.`,
          true,
          { cause: error },
        );
      }
      throw new SourceError(`${where} could not be read: ${name ? `${name}: ` : ""}${(error as Error).message ?? String(error)}`, false, { cause: error });
    }
  }

  /** Closes the client's connections when this source created the client. */
  destroy(): void {
    if (this.ownsClient) this.client.destroy();
  }
}

function emptyBody(): ObjectBody {
  return { chunks: (async function* () {})(), abort: () => undefined };
}
