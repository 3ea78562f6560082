import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from "@aws-sdk/client-cloudwatch";
import { TRAINING_METRIC_NAMESPACE } from "../runspec/trainingMetricNames";
import { describeError, type Logger } from "./log";

/** PutMetricData takes at most 1000 datums per request. */
const MAX_DATA_PER_REQUEST = 1000;
/** Datums kept while CloudWatch is unreachable; older ones are dropped (the run record has the history). */
const MAX_BACKLOG = 2000;

/** Sends one PutMetricData request; the real one is {@link cloudWatchSender}. */
export type PutMetricData = (namespace: string, data: MetricDatum[]) => Promise<void>;

/**
 * The CloudWatch client for training metrics: `AWS_ENDPOINT_URL_CLOUDWATCH` points it elsewhere,
 * as for the other clients. Few tries and short timeouts: a metric is worth less than the
 * agent's time, and the run record holds the same numbers durably.
 */
export function createCloudWatchClient(region: string): CloudWatchClient {
  return new CloudWatchClient({
    region,
    maxAttempts: 2,
    retryMode: "standard",
    requestHandler: { connectionTimeout: 3_000, socketTimeout: 10_000 },
  });
}

export function cloudWatchSender(client: CloudWatchClient): PutMetricData {
  return async (namespace, data) => {
    await client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data }));
  };
}

/**
 * Best-effort publishing: {@link publish} queues and returns at once, one request runs at a time,
 * a failure is logged (`metrics-publish-failed`) and its datums dropped. Nothing here throws into
 * the agent or waits on anything the agent waits for (uploads, record writes).
 */
export class MetricsPublisher {
  private backlog: MetricDatum[] = [];
  private running: Promise<void> | null = null;
  private dropped = 0;

  constructor(
    private readonly send: PutMetricData,
    private readonly log: Logger,
    private readonly namespace: string = TRAINING_METRIC_NAMESPACE,
  ) {}

  publish(data: readonly MetricDatum[]): void {
    if (data.length === 0) return;
    this.backlog.push(...data);
    if (this.backlog.length > MAX_BACKLOG) {
      this.dropped += this.backlog.length - MAX_BACKLOG;
      this.backlog = this.backlog.slice(-MAX_BACKLOG);
    }
    this.running ??= this.pump().finally(() => {
      this.running = null;
    });
  }

  /** Waits for queued datums to be sent, at most `timeoutMs` (before the process exits). */
  async drain(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      while (this.running !== null) {
        const running = this.running;
        const finished = await Promise.race([running.then(() => true), timeout.then(() => false)]);
        if (!finished) {
          this.log.warn("metrics-unsent", { datums: this.backlog.length, waitedMs: timeoutMs });
          return;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async pump(): Promise<void> {
    while (this.backlog.length > 0) {
      const batch = this.backlog.splice(0, MAX_DATA_PER_REQUEST);
      try {
        await this.send(this.namespace, batch);
      } catch (error) {
        this.log.warn("metrics-publish-failed", { namespace: this.namespace, datums: batch.length, error: describeError(error) });
      }
      if (this.dropped > 0) {
        this.log.warn("metrics-dropped", { datums: this.dropped, note: "backlog full while CloudWatch was unreachable" });
        this.dropped = 0;
      }
    }
  }
}
