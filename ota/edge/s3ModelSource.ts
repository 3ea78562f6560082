import { GetObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { Readable } from "stream";
import { DEFAULT_MODELS_PREFIX } from "../../runspec/bucketLayout";
import { layoutFor } from "../manifest";
import { isS3NotFound } from "../s3Errors";
import { EdgeUsageError, SourceError } from "./errors";
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, checkTimeout, type ModelSource, type ObjectBody, type OpenOptions } from "./modelSource";

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
   * The client to use. Its own request handler's timeouts apply, not `idleTimeoutMs` and
   * `connectTimeoutMs`.
   * @default an `S3Client` configured the standard way (region and credentials from the
   * environment, profile or instance role; `AWS_ENDPOINT_URL_S3` honoured) with the timeouts below
   */
  readonly client?: S3Client;
  /**
   * Settings for the client this source creates when `client` is not given (`region`,
   * `forcePathStyle` for S3-compatible stores, …). A `requestHandler` here replaces the one this
   * source configures, timeouts included.
   * @default {}
   */
  readonly clientConfig?: S3ClientConfig;
  /**
   * A request is abandoned after this long without a byte from S3: no answer to the request, or
   * a body that stops arriving (a NAT entry or firewall state dropped, Wi-Fi gone). The socket
   * timeout of the client's `@smithy/node-http-handler` (`socketTimeout`), which watches the
   * socket from the request to the body's last byte. The client retries a request that timed
   * out before its answer (3 attempts in all); a body that stalls is not retried.
   * @default 30000
   */
  readonly idleTimeoutMs?: number;
  /**
   * A connection not established within this long is abandoned (the handler's `connectionTimeout`).
   * @default 10000
   */
  readonly connectTimeoutMs?: number;
}

/** The default models prefix, as `OtaBucket` uses it (the bucket layout's, runspec/bucketLayout.ts). */
export { DEFAULT_MODELS_PREFIX };

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
    const idleTimeoutMs = checkTimeout("idleTimeoutMs (--idle-timeout)", options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS);
    const connectTimeoutMs = checkTimeout("connectTimeoutMs", options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    // @smithy/node-http-handler 4.x: `requestTimeout` is cleared once the answer's headers arrive
    // and without `throwOnRequestTimeout` only logs a warning, so it is not used. `socketTimeout`
    // is the socket's idle timeout for the whole exchange, body included; it ends the request
    // (and the body stream) with a TimeoutError. The handler arms it once connected, or 3 s into
    // the request when it is 6 s or more, so silence can last up to 3 s longer than asked.
    // `connectionTimeout` covers the TCP connect. (Checked by test/ota/edge/timeouts.test.ts.)
    this.client =
      options.client ?? new S3Client({ ...options.clientConfig, requestHandler: options.clientConfig?.requestHandler ?? { connectionTimeout: connectTimeoutMs, socketTimeout: idleTimeoutMs } });
  }

  async open(key: string, maxBytes: number, options: OpenOptions = {}): Promise<ObjectBody> {
    const where = `${this.location}${key}`;
    try {
      const answer = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: `${this.modelPrefix}${key}`, Range: `bytes=0-${maxBytes - 1}` }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const stream = answer.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
      if (!stream) return emptyBody();
      return { chunks: readable(stream), abort: () => stream.destroy() };
    } catch (error) {
      const name = (error as { name?: string }).name ?? "";
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (name === "TimeoutError") {
        const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts;
        throw new SourceError(`${where} could not be read: ${describeTimeout(error as Error)}${attempts && attempts > 1 ? `; tried ${attempts} times` : ""}.`, false, { cause: error });
      }
      // A range starting at byte 0 is unsatisfiable only for an empty object.
      if (name === "InvalidRange" || status === 416) return emptyBody();
      if (/region is missing/i.test((error as Error).message ?? "")) {
        throw new EdgeUsageError("No AWS region is configured: pass --region (the OTA bucket's region) or set AWS_REGION.");
      }
      if (name === "NoSuchBucket") {
        throw new SourceError(`${where}: the bucket ${this.bucket} does not exist (check it against the stack output otaBucketName).`, false, { cause: error });
      }
      if (isS3NotFound(error)) {
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

/** The body's chunks; the handler's timeout errors say what happened in the puller's words. */
async function* readable(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream) yield chunk;
  } catch (error) {
    if ((error as { name?: string }).name === "TimeoutError") throw new Error(describeTimeout(error as Error), { cause: error });
    throw error;
  }
}

/** `no data for 30 s (idle timeout)` for the handler's `the request socket timed out after 30000 ms of inactivity (…)`. */
function describeTimeout(error: Error): string {
  const idle = /timed out after (\d+) ms of inactivity/.exec(error.message);
  if (idle) return `no data for ${Number(idle[1]) / 1000} s (idle timeout)`;
  const connect = /establish a connection with the server within the configured timeout of (\d+) ms/.exec(error.message);
  if (connect) return `no connection within ${Number(connect[1]) / 1000} s`;
  return error.message;
}

function emptyBody(): ObjectBody {
  return { chunks: (async function* () {})(), abort: () => undefined };
}
