import { request as httpRequest, type ClientRequest, type IncomingMessage } from "http";
import { request as httpsRequest } from "https";
import { EdgeUsageError, SourceError } from "./errors";
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, checkTimeout, type ModelSource, type ObjectBody, type OpenOptions } from "./modelSource";

/** Where the model's folder is served over HTTPS. */
export interface HttpModelSourceOptions {
  /**
   * URL of the model's folder, the one holding `channels/` and `versions/`: e.g.
   * `https://models.example.com/models/widgets/` (a CloudFront distribution in front of the OTA
   * bucket, or a mirror). A missing trailing `/` is added. `http:` only for loopback hosts.
   */
  readonly baseUrl: string;
  /**
   * A query string appended to every request, for signed-URL setups that sign a whole folder:
   * e.g. CloudFront's `Policy=…&Signature=…&Key-Pair-Id=…` with a custom policy for
   * `https://…/models/widgets/*`. A leading `?` is dropped.
   * @default none
   * @see https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-custom-policy.html
   */
  readonly query?: string;
  /**
   * A request is abandoned after this long without a byte from the server, from the connection
   * on: a TLS handshake or an answer that never comes, or a body that stops arriving (a NAT
   * entry or firewall state dropped, Wi-Fi gone). The socket's idle timeout.
   * @default 30000
   */
  readonly idleTimeoutMs?: number;
  /** @deprecated The former name of {@link idleTimeoutMs}; used when that is not given. */
  readonly timeoutMs?: number;
  /**
   * A TCP connection not established within this long is abandoned.
   * @default 10000
   */
  readonly connectTimeoutMs?: number;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Reads releases with plain GETs under a base URL: each a range request for what the puller may
 * read (the declared length and one byte more), and the connection is closed when a server that
 * ignores ranges sends past that. Redirects are not followed: point the base URL at the final
 * location.
 */
export class HttpModelSource implements ModelSource {
  readonly location: string;
  private readonly base: URL;
  private readonly query: string;
  private readonly idleTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(options: HttpModelSourceOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`);
    } catch {
      throw new EdgeUsageError(`The base URL ${JSON.stringify(options.baseUrl)} is not a URL; give the model's folder, e.g. https://models.example.com/models/widgets/`);
    }
    if (base.protocol !== "https:" && !(base.protocol === "http:" && LOOPBACK_HOSTS.has(base.hostname))) {
      throw new EdgeUsageError(
        `The base URL ${base.href} must use https: (plain http is allowed on loopback only): signed URLs and model files must not cross the network in the clear.`,
      );
    }
    if (base.search !== "" || base.hash !== "") {
      throw new EdgeUsageError(`The base URL ${base.href} must not carry a query or fragment; pass a signed-URL query with --url-query.`);
    }
    this.base = base;
    this.location = base.href;
    this.query = (options.query ?? "").replace(/^\?/, "");
    this.idleTimeoutMs = checkTimeout("idleTimeoutMs (--idle-timeout)", options.idleTimeoutMs ?? options.timeoutMs, DEFAULT_IDLE_TIMEOUT_MS);
    this.connectTimeoutMs = checkTimeout("connectTimeoutMs", options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
  }

  /** The URL of `key` (relative to the model's folder), query string included. */
  urlOf(key: string): URL {
    const url = new URL(key.split("/").map(encodeURIComponent).join("/"), this.base);
    url.search = this.query;
    return url;
  }

  open(key: string, maxBytes: number, options: OpenOptions = {}): Promise<ObjectBody> {
    const where = `${this.location}${key}`;
    const url = this.urlOf(key);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<ObjectBody>((resolve, reject) => {
      const request: ClientRequest = send(url, {
        method: "GET",
        headers: { range: `bytes=0-${maxBytes - 1}`, "accept-encoding": "identity" },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      // The response only says "aborted" when the request is destroyed; keep the reason.
      let failure: Error | undefined;
      // The socket's idle timer: armed once connected (TLS handshake included), for as long as
      // the request and its response use the socket, body included.
      request.setTimeout(this.idleTimeoutMs, () => {
        failure = new Error(`no data for ${this.idleTimeoutMs / 1000} s (idle timeout)`);
        request.destroy(failure);
      });
      // The idle timer starts only once connected; a connection that never completes has its own.
      let connecting: NodeJS.Timeout | undefined;
      request.once("socket", (socket) => {
        if (!socket.connecting) return;
        connecting = setTimeout(() => {
          failure = new Error(`no connection within ${this.connectTimeoutMs / 1000} s`);
          request.destroy(failure);
        }, this.connectTimeoutMs);
        socket.once("connect", () => clearTimeout(connecting));
      });
      request.once("close", () => clearTimeout(connecting));
      request.once("error", (error) => reject(new SourceError(`${where} could not be read: ${error.message}`, false, { cause: error })));
      request.once("response", (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        const abort = (): void => {
          response.destroy();
          request.destroy();
        };
        if (status === 200 || status === 206) {
          resolve({ chunks: withReason(response, () => failure), abort });
          return;
        }
        abort();
        // A range starting at byte 0 is unsatisfiable only for an empty object.
        if (status === 416) resolve({ chunks: (async function* () {})(), abort: () => undefined });
        else if (status === 404 || status === 410) reject(new SourceError(`${where} does not exist (HTTP ${status}).`, true));
        else if (status === 403 || status === 401) {
          reject(
            new SourceError(
              `${where}: HTTP ${status}. Either it does not exist (S3 and CloudFront answer 403 for a missing key) or the signed-URL query (--url-query) is missing, expired or does not cover it.`,
              true,
            ),
          );
        } else if (status >= 300 && status < 400) {
          reject(new SourceError(`${where} redirects (HTTP ${status}) to ${String(response.headers.location)}; redirects are not followed: use the final location as the base URL.`, false));
        } else reject(new SourceError(`${where} could not be read: HTTP ${status} ${response.statusMessage ?? ""}`.trim(), false));
      });
      request.end();
    });
  }
}

/** The response's chunks; an error while reading is replaced by the reason the request was ended, when there is one. */
async function* withReason(response: IncomingMessage, reason: () => Error | undefined): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of response) yield chunk as Buffer;
  } catch (error) {
    throw reason() ?? error;
  }
}
