import { createServer, type IncomingMessage, type ServerResponse } from "http";
import { gunzipSync } from "zlib";
import { closeServer, listenOnLoopback, readBody } from "./loopback";

/** One datapoint as the fake received it, flattened for assertions. */
export interface ReceivedDatum {
  readonly namespace: string;
  readonly metricName: string;
  /** `Name → Value`, in the order sent. */
  readonly dimensions: Readonly<Record<string, string>>;
  /** Dimension names in the order sent. */
  readonly dimensionNames: readonly string[];
  readonly value: number;
  readonly unit: string | undefined;
  /** Milliseconds since the epoch, from the request's `Timestamp` (epoch seconds). */
  readonly timestampMs: number | undefined;
}

/** One request as received. */
export interface CloudWatchCall {
  readonly action: string;
  readonly status: number;
  /** Whether the request carried a SigV4 `Authorization` header. */
  readonly signed: boolean;
  readonly contentType: string | undefined;
  readonly gzipped: boolean;
}

const TARGET_PREFIX = "GraniteServiceVersion20100801.";

/**
 * A local CloudWatch endpoint for `PutMetricData`, speaking the protocol
 * @aws-sdk/client-cloudwatch 3.1164 uses: AWS JSON 1.0 (`POST /`, `X-Amz-Target:
 * GraniteServiceVersion20100801.<Action>`, `Content-Type: application/x-amz-json-1.0`, bodies
 * gzipped once they pass the SDK's request compression threshold). Anything else is answered
 * with an `UnknownOperationException` and recorded. `failNext` makes the next requests fail.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 */
export class CloudWatchFake {
  readonly calls: CloudWatchCall[] = [];
  readonly data: ReceivedDatum[] = [];
  private failures = 0;
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private url = "";

  static async start(): Promise<CloudWatchFake> {
    const fake = new CloudWatchFake();
    fake.url = await listenOnLoopback(fake.server);
    return fake;
  }

  get endpoint(): string {
    return this.url;
  }

  /** The next `count` requests get a 500 `InternalServiceFault` (CloudWatch's error for its own failures). */
  failNext(count: number): void {
    this.failures = count;
  }

  /** Datapoints of one metric, in arrival order. */
  values(metricName: string): number[] {
    return this.data.filter((d) => d.metricName === metricName).map((d) => d.value);
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const gzipped = req.headers["content-encoding"] === "gzip";
    const target = String(req.headers["x-amz-target"] ?? "");
    const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
    const contentType = req.headers["content-type"];
    const answer = (status: number, body: unknown): void => {
      this.calls.push({ action, status, signed: /^AWS4-HMAC-SHA256 /.test(String(req.headers.authorization ?? "")), contentType, gzipped });
      res.writeHead(status, { "content-type": "application/x-amz-json-1.0" }).end(JSON.stringify(body));
    };
    if (req.method !== "POST" || contentType !== "application/x-amz-json-1.0" || action !== "PutMetricData") {
      return answer(400, { __type: "UnknownOperationException", message: `not faked: ${req.method} ${target} (${String(contentType)})` });
    }
    if (this.failures > 0) {
      this.failures -= 1;
      return answer(500, { __type: "InternalServiceFault", message: "injected failure" });
    }
    let input: { Namespace?: unknown; MetricData?: unknown };
    try {
      input = JSON.parse((gzipped ? gunzipSync(raw) : raw).toString("utf8")) as typeof input;
    } catch {
      return answer(400, { __type: "SerializationException", message: "body is not JSON" });
    }
    if (typeof input.Namespace !== "string" || !Array.isArray(input.MetricData) || input.MetricData.length === 0) {
      return answer(400, { __type: "InvalidParameterValue", message: "Namespace and MetricData are required" });
    }
    for (const d of input.MetricData as { MetricName: string; Dimensions?: { Name: string; Value: string }[]; Value: number; Unit?: string; Timestamp?: number }[]) {
      const dims = d.Dimensions ?? [];
      this.data.push({
        namespace: input.Namespace,
        metricName: d.MetricName,
        dimensions: Object.fromEntries(dims.map((x) => [x.Name, x.Value])),
        dimensionNames: dims.map((x) => x.Name),
        value: d.Value,
        unit: d.Unit,
        timestampMs: typeof d.Timestamp === "number" ? Math.round(d.Timestamp * 1000) : undefined,
      });
    }
    answer(200, {});
  }
}
