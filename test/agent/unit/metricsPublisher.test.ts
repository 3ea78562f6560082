import type { MetricDatum } from "@aws-sdk/client-cloudwatch";
import { MetricsPublisher, type PutMetricData } from "../../../agent/metricsPublisher";
import type { Logger } from "../../../agent/log";

function recordingLog(): Logger & { lines: { level: string; event: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; event: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (event: string, fields?: Record<string, unknown>) => void lines.push({ level, event, ...(fields ? { fields } : {}) });
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

const datum = (name: string, value: number): MetricDatum => ({ MetricName: name, Value: value });

/** A sender whose requests stay open until released. */
function gatedSender() {
  const calls: { namespace: string; data: MetricDatum[]; release: (error?: Error) => void }[] = [];
  const send: PutMetricData = (namespace, data) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ namespace, data, release: (error) => (error ? reject(error) : resolve()) });
    });
  return { calls, send };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("MetricsPublisher", () => {
  it("sends in the YoloTrain namespace, one request at a time, batching what queued meanwhile", async () => {
    const { calls, send } = gatedSender();
    const publisher = new MetricsPublisher(send, recordingLog());
    publisher.publish([datum("Epoch", 1)]);
    publisher.publish([datum("Epoch", 2)]);
    publisher.publish([datum("Epoch", 3), datum("Attempts", 1)]);
    await tick();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.namespace).toBe("YoloTrain");
    expect(calls[0]!.data).toEqual([datum("Epoch", 1)]);
    calls[0]!.release();
    await tick();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.data).toEqual([datum("Epoch", 2), datum("Epoch", 3), datum("Attempts", 1)]);
    calls[1]!.release();
    await publisher.drain(1000);
  });

  it("logs a failed request, drops its datums and goes on with the next ones", async () => {
    const { calls, send } = gatedSender();
    const log = recordingLog();
    const publisher = new MetricsPublisher(send, log);
    publisher.publish([datum("Epoch", 1)]);
    publisher.publish([datum("Epoch", 2)]);
    await tick();
    calls[0]!.release(new Error("AccessDenied"));
    await tick();
    await tick();
    expect(calls[1]!.data).toEqual([datum("Epoch", 2)]);
    calls[1]!.release();
    await publisher.drain(1000);
    expect(log.lines).toEqual([
      { level: "warn", event: "metrics-publish-failed", fields: expect.objectContaining({ namespace: "YoloTrain", datums: 1, error: "Error: AccessDenied" }) },
    ]);
  });

  it("never throws into the caller, even when the sender throws synchronously", async () => {
    const log = recordingLog();
    const publisher = new MetricsPublisher(() => {
      throw new Error("boom");
    }, log);
    expect(() => publisher.publish([datum("Epoch", 1)])).not.toThrow();
    await publisher.drain(1000);
    expect(log.lines.map((l) => l.event)).toEqual(["metrics-publish-failed"]);
  });

  it("stops waiting on drain after the timeout and logs what stayed unsent", async () => {
    const { send } = gatedSender();
    const log = recordingLog();
    const publisher = new MetricsPublisher(send, log);
    publisher.publish([datum("Epoch", 1)]);
    publisher.publish([datum("Epoch", 2)]);
    const started = Date.now();
    await publisher.drain(50);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(log.lines).toEqual([{ level: "warn", event: "metrics-unsent", fields: { datums: 1, waitedMs: 50 } }]);
  });

  it("splits a backlog into requests of at most 1000 datums", async () => {
    const sizes: number[] = [];
    const publisher = new MetricsPublisher(async (_ns, data) => void sizes.push(data.length), recordingLog());
    publisher.publish(Array.from({ length: 1500 }, (_, i) => datum("Epoch", i)));
    await publisher.drain(1000);
    expect(sizes).toEqual([1000, 500]);
  });
});
