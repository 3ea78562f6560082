import { finiteMetrics, METRIC_NAME_PATTERN } from "../../runspec/metrics";

describe("metric names", () => {
  it.each(["metrics/mAP50-95(B)", "metrics/precision(M)", "fitness", "val/box_loss", "lr/pg0"])("accepts %s, a name ultralytics reports", (name) => {
    expect(METRIC_NAME_PATTERN.test(name)).toBe(true);
  });

  it.each(["", "__proto__", "_private", "/metrics", "mAP 50", "a".repeat(129), "métrique"])("refuses %j", (name) => {
    expect(METRIC_NAME_PATTERN.test(name)).toBe(false);
  });
});

describe("finiteMetrics", () => {
  it("keeps finite numbers under valid names and drops the rest", () => {
    const fromTrainer = JSON.parse('{"metrics/mAP50(B)":0.8,"fitness":null,"metrics/recall(B)":"nan","__proto__":1,"bad name":2,"val/box_loss":1.25}') as unknown;
    const metrics = finiteMetrics(fromTrainer);
    expect(metrics).toEqual({ "metrics/mAP50(B)": 0.8, "val/box_loss": 1.25 });
    expect(Object.getPrototypeOf(metrics)).toBe(Object.prototype);
  });

  it.each([[null], [undefined], [[1, 2]], ["0.5"], [3]])("reads %j as no metrics", (value) => {
    expect(finiteMetrics(value)).toEqual({});
  });
});
