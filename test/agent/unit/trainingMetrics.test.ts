import fc from "fast-check";
import type { MetricDatum } from "@aws-sdk/client-cloudwatch";
import { applyEvent, reduceEvents, startRecord, type RunEvent } from "../../../agent/runRecord";
import type { RunRecord } from "../../../runspec/runRecord";
import type { EpochProgress } from "../../../agent/progress";
import { MAP50_95_KEY, MAP50_KEY, publishesMetrics, trainingMetricData } from "../../../agent/trainingMetrics";
import { TRAINING_METRIC_DIMENSIONS, TRAINING_METRIC_NAMES } from "../../../runspec/trainingMetricNames";

const T0 = Date.parse("2026-03-01T10:00:00Z");
const GROUP = "yolo-train-dev-gpu";
const fresh = () => startRecord({ runId: "r1", previous: null, atMs: T0, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 3.6 });

function epoch(n: number, atMs: number, extra: Partial<EpochProgress> = {}): RunEvent {
  const progress: EpochProgress = {
    type: "epoch",
    phase: 0,
    phases: 1,
    epoch: n,
    epochs: 10,
    metrics: { [MAP50_95_KEY]: n / 10, [MAP50_KEY]: n / 8, "metrics/precision(B)": 0.5 },
    losses: { box_loss: 1 },
    imagesPerSecond: 100 + n,
    time: null,
    ...extra,
  };
  return { type: "epoch", atMs, progress };
}

/** `{ MetricName: Value }` of a datum list. */
const values = (data: MetricDatum[]): Record<string, number | undefined> => Object.fromEntries(data.map((d) => [d.MetricName, d.Value]));

describe("trainingMetricData", () => {
  it("publishes epoch, epochs, both mAPs, images/s, interruptions, attempts and cost after an epoch", () => {
    const state = reduceEvents(fresh(), [{ type: "trainer-started", atMs: T0 + 1000 }, epoch(3, T0 + 3_600_000)]);
    const data = trainingMetricData(state.record, GROUP, T0 + 3_600_000);
    expect(values(data)).toEqual({
      Epoch: 3,
      EpochsTotal: 10,
      "mAP50-95": 0.3,
      mAP50: 0.375,
      ImagesPerSecond: 103,
      SpotInterruptions: 0,
      Attempts: 1,
      EstimatedCostUsd: 3.6,
    });
    expect(data.map((d) => d.MetricName).sort()).toEqual([...TRAINING_METRIC_NAMES].sort());
  });

  it("gives every datum the run and group dimensions, in the shared order, and the event's timestamp", () => {
    const data = trainingMetricData(applyEvent(fresh(), epoch(1, T0 + 60_000)).record, GROUP, T0 + 60_000);
    for (const d of data) {
      expect(d.Dimensions).toEqual([
        { Name: "RunId", Value: "r1" },
        { Name: "AutoScalingGroupName", Value: GROUP },
      ]);
      expect(d.Dimensions!.map((x) => x.Name)).toEqual([...TRAINING_METRIC_DIMENSIONS]);
      expect(d.Timestamp).toEqual(new Date(T0 + 60_000));
    }
  });

  it.each([
    ["Epoch", "Count"],
    ["EpochsTotal", "Count"],
    ["mAP50-95", "None"],
    ["mAP50", "None"],
    ["ImagesPerSecond", "Count/Second"],
    ["SpotInterruptions", "Count"],
    ["Attempts", "Count"],
    ["EstimatedCostUsd", "None"],
  ])("sends %s with unit %s", (name, unit) => {
    const data = trainingMetricData(applyEvent(fresh(), epoch(1, T0 + 1)).record, GROUP, T0 + 1);
    expect(data.find((d) => d.MetricName === name)?.Unit).toBe(unit);
  });

  it("leaves out mAP and images/s before the first epoch instead of sending zeros", () => {
    const data = trainingMetricData(fresh().record, GROUP, T0);
    expect(Object.keys(values(data)).sort()).toEqual(["Attempts", "EpochsTotal", "Epoch", "EstimatedCostUsd", "SpotInterruptions"].sort());
    expect(values(data)).toMatchObject({ Epoch: 0, EpochsTotal: 10, Attempts: 0, SpotInterruptions: 0 });
  });

  it("leaves out images/s when the trainer does not report it", () => {
    const data = trainingMetricData(applyEvent(fresh(), epoch(1, T0 + 1, { imagesPerSecond: null })).record, GROUP, T0 + 1);
    expect(values(data)).not.toHaveProperty("ImagesPerSecond");
  });

  it("counts an interruption as soon as the record says interrupted, and the same on the next node", () => {
    const interrupted = reduceEvents(fresh(), [
      { type: "trainer-started", atMs: T0 + 1 },
      epoch(2, T0 + 2),
      { type: "ended", atMs: T0 + 3, phase: "interrupted", note: "spot interruption notice" },
    ]).record;
    expect(values(trainingMetricData(interrupted, GROUP, T0 + 3)).SpotInterruptions).toBe(1);
    const nextNode = startRecord({ runId: "r1", previous: interrupted, atMs: T0 + 10, trainingPhases: 1, firstPhaseEpochs: 10, usdPerHour: 3.6 }).record;
    expect(values(trainingMetricData(nextNode, GROUP, T0 + 10))).toMatchObject({ SpotInterruptions: 1, Epoch: 2, Attempts: 1 });
  });

  it("only ever sends finite numbers (CloudWatch rejects NaN and infinities)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(MAP50_95_KEY, MAP50_KEY, "x"), fc.double()), fc.option(fc.double()), (metrics, ips) => {
        const record: RunRecord = { ...fresh().record, metrics, imagesPerSecond: ips };
        return trainingMetricData(record, GROUP, T0).every((d) => typeof d.Value === "number" && Number.isFinite(d.Value));
      }),
    );
  });
});

describe("publishesMetrics", () => {
  it.each<[RunEvent["type"], boolean]>([
    ["epoch", true],
    ["trainer-started", true],
    ["uploading", true],
    ["ended", true],
    ["tick", false],
    ["trainer-exited", false],
    ["checkpoint-uploaded", false],
    ["checkpoint-unusable", false],
    ["best-uploaded", false],
    ["release-published", false],
  ])("%s → %s", (type, expected) => {
    expect(publishesMetrics({ type, atMs: 0 } as RunEvent)).toBe(expected);
  });
});
