import { nameHash } from "../../../components/naming/physicalNames";
import fc from "fast-check";
import {
  DASHBOARD_NAME,
  type DashboardBodyInput,
  dashboardNameFor,
  dashboardUrl,
  GRID_WIDTH,
  layoutWidgets,
  logGroupUrl,
  metricWidget,
  renderDashboardBody,
  searchExpression,
  textWidget,
} from "../../../components/observability/dashboardBody";
import { TRAINING_METRIC_DIMENSIONS, TRAINING_METRIC_NAMES, TRAINING_METRIC_NAMESPACE } from "../../../runspec/trainingMetricNames";

/**
 * Metrics that really exist: what the CloudWatch agent's nvidia_gpu plugin publishes (with the
 * dimensions our agent config rolls up to), and the Auto Scaling group metrics (published when
 * the group enables metrics collection), and the training metrics the run agent publishes
 * (agent/trainingMetrics.ts; test/agent/lifecycle/trainingMetrics.test.ts checks what it sends).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-NVIDIA-GPU.html
 * https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html
 */
const PUBLISHED: Record<string, { metrics: string[]; dimensionSets: string[][] }> = {
  CWAgent: {
    metrics: [
      "nvidia_smi_utilization_gpu",
      "nvidia_smi_utilization_memory",
      "nvidia_smi_memory_total",
      "nvidia_smi_memory_used",
      "nvidia_smi_memory_free",
      "nvidia_smi_temperature_gpu",
      "nvidia_smi_power_draw",
      "nvidia_smi_fan_speed",
    ],
    dimensionSets: [["AutoScalingGroupName"], ["AutoScalingGroupName", "InstanceId"]],
  },
  "AWS/AutoScaling": {
    metrics: [
      "GroupMinSize",
      "GroupMaxSize",
      "GroupDesiredCapacity",
      "GroupInServiceInstances",
      "GroupPendingInstances",
      "GroupStandbyInstances",
      "GroupTerminatingInstances",
      "GroupTotalInstances",
    ],
    dimensionSets: [["AutoScalingGroupName"]],
  },
  [TRAINING_METRIC_NAMESPACE]: {
    metrics: [...TRAINING_METRIC_NAMES],
    dimensionSets: [[...TRAINING_METRIC_DIMENSIONS]],
  },
};

const INPUT: DashboardBodyInput = {
  region: "eu-west-1",
  autoScalingGroupName: "gpu-asg-0a1b2c3",
  alarmArns: [
    "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:g-gpu-idle-1",
    "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:g-gpu-starved-1",
  ],
  logGroupName: "/yolo-train/dev/run-1",
  title: "yolo-train dev run 1",
  idleGpuPercent: 5,
  starvedGpuPercent: 60,
};

function body(input: DashboardBodyInput = INPUT): any {
  return JSON.parse(renderDashboardBody(input));
}

function metricWidgets(b: any): any[] {
  return b.widgets.filter((w: any) => w.type === "metric");
}

/** Every metric a metric widget refers to, plain or inside a SEARCH, as namespace/name/dimension names. */
function referencedMetrics(widget: any): { namespace: string; metric: string; dimensions: string[]; group?: string }[] {
  const found: { namespace: string; metric: string; dimensions: string[]; group?: string }[] = [];
  for (const line of widget.properties.metrics as unknown[][]) {
    const first = line[0];
    if (typeof first === "object" && first !== null && "expression" in first) {
      const expression = (first as { expression: string }).expression;
      const m = /^SEARCH\('\{([^}]*)\} MetricName="([^"]+)"(.*)', '(\w+)', (\d+)\)$/.exec(expression);
      expect(m).not.toBeNull();
      const [namespace, ...dimensions] = m![1]!.split(",");
      const group = /AutoScalingGroupName="([^"]+)"/.exec(m![3]!)?.[1];
      found.push({ namespace: namespace!, metric: m![2]!, dimensions, ...(group ? { group } : {}) });
    } else {
      const [namespace, metric, ...rest] = line as unknown[];
      const dims = rest.filter((x) => typeof x === "string") as string[];
      const names = dims.filter((_, i) => i % 2 === 0);
      const group = names.indexOf("AutoScalingGroupName") >= 0 ? dims[names.indexOf("AutoScalingGroupName") * 2 + 1] : undefined;
      found.push({ namespace: namespace as string, metric: metric as string, dimensions: names, ...(group ? { group } : {}) });
    }
  }
  return found;
}

describe("renderDashboardBody", () => {
  it("renders valid JSON with a widgets array", () => {
    const b = body();
    expect(Array.isArray(b.widgets)).toBe(true);
    expect(b.widgets.length).toBeGreaterThanOrEqual(6);
  });

  it.each([
    ["without a run id", INPUT],
    ["with a run id", { ...INPUT, runId: "run-1" }],
  ])("refers only to metrics the CloudWatch agent, AWS/AutoScaling or the run agent really publish, with their dimensions, for this group (%s)", (_case, input) => {
    const widgets = metricWidgets(body(input));
    expect(widgets.length).toBeGreaterThanOrEqual(9);
    for (const w of widgets) {
      expect(w.properties.region).toBe("eu-west-1");
      for (const ref of referencedMetrics(w)) {
        const published = PUBLISHED[ref.namespace];
        expect(published).toBeDefined();
        expect(published!.metrics).toContain(ref.metric);
        expect(published!.dimensionSets).toContainEqual(ref.dimensions);
        expect(ref.group).toBe("gpu-asg-0a1b2c3");
      }
    }
  });

  it("graphs GPU utilisation for the group (busiest and mean GPU) and per node through a SEARCH on InstanceId", () => {
    const refs = metricWidgets(body()).flatMap((w) => referencedMetrics(w));
    const util = refs.filter((r) => r.metric === "nvidia_smi_utilization_gpu");
    expect(util).toContainEqual({ namespace: "CWAgent", metric: "nvidia_smi_utilization_gpu", dimensions: ["AutoScalingGroupName"], group: "gpu-asg-0a1b2c3" });
    expect(util).toContainEqual({
      namespace: "CWAgent",
      metric: "nvidia_smi_utilization_gpu",
      dimensions: ["AutoScalingGroupName", "InstanceId"],
      group: "gpu-asg-0a1b2c3",
    });
    const groupStats = metricWidgets(body())
      .flatMap((w) => w.properties.metrics as unknown[][])
      .filter((line) => line[1] === "nvidia_smi_utilization_gpu")
      .map((line) => (line[line.length - 1] as { stat: string }).stat);
    expect(groupStats).toEqual(expect.arrayContaining(["Maximum", "Average"]));
  });

  it("graphs GPU memory used and the group's in-service instances", () => {
    const metrics = metricWidgets(body()).flatMap((w) => referencedMetrics(w)).map((r) => `${r.namespace}/${r.metric}`);
    expect(metrics).toContain("CWAgent/nvidia_smi_memory_used");
    expect(metrics).toContain("AWS/AutoScaling/GroupInServiceInstances");
  });

  it("graphs epoch progress, mAP, images/s, spot interruptions, attempts and cost: every metric the run agent publishes", () => {
    const refs = metricWidgets(body()).flatMap((w) => referencedMetrics(w));
    const training = refs.filter((r) => r.namespace === "YoloTrain").map((r) => r.metric);
    expect([...new Set(training)].sort()).toEqual([...TRAINING_METRIC_NAMES].sort());
    const titles = metricWidgets(body()).map((w) => w.properties.title as string);
    expect(titles).toEqual(expect.arrayContaining(["Epoch progress (current phase)", "Validation mAP (boxes)", "Training throughput (images/s)", "Spot interruptions and trainer attempts"]));
  });

  it("with a run id, graphs that run's own series; without, searches every run of the group", () => {
    const lines = (input: DashboardBodyInput) =>
      metricWidgets(body(input))
        .flatMap((w) => w.properties.metrics as unknown[][])
        .filter((line) => line[0] === "YoloTrain" || JSON.stringify(line).includes("{YoloTrain,"));
    const own = lines({ ...INPUT, runId: "run-1" });
    expect(own).toHaveLength(TRAINING_METRIC_NAMES.length);
    for (const line of own) expect(line.slice(2, 6)).toEqual(["RunId", "run-1", "AutoScalingGroupName", "gpu-asg-0a1b2c3"]);
    const searched = lines(INPUT);
    expect(searched).toHaveLength(TRAINING_METRIC_NAMES.length);
    for (const line of searched) {
      expect((line[0] as { expression: string }).expression).toMatch(/^SEARCH\('\{YoloTrain,RunId,AutoScalingGroupName\} MetricName="[^"]+" AutoScalingGroupName="gpu-asg-0a1b2c3"', '\w+', 300\)$/);
    }
  });

  it("gives expression lines ids CloudWatch accepts, unique within each widget", () => {
    for (const w of metricWidgets(body())) {
      const ids = (w.properties.metrics as unknown[][]).map((line) => line[0]).filter((x): x is { id: string } => typeof x === "object" && x !== null && "id" in x).map((x) => x.id);
      for (const id of ids) expect(id).toMatch(/^[a-z][a-zA-Z0-9_]*$/);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it("draws the idle and starved thresholds on the utilisation graphs", () => {
    const util = metricWidgets(body()).filter((w) => /utilisation/.test(w.properties.title));
    expect(util).toHaveLength(2);
    for (const w of util) {
      expect(w.properties.annotations.horizontal).toEqual([
        { label: "idle", value: 5 },
        { label: "starved", value: 60 },
      ]);
    }
  });

  it("lists the alarms in an alarm status widget", () => {
    const alarms = body().widgets.filter((w: any) => w.type === "alarm");
    expect(alarms).toHaveLength(1);
    expect(alarms[0].properties.alarms).toEqual(INPUT.alarmArns);
  });

  it("leaves the alarm widget out when there are no alarms", () => {
    expect(body({ ...INPUT, alarmArns: [] }).widgets.filter((w: any) => w.type === "alarm")).toEqual([]);
  });

  it("queries the run's log group with Logs Insights, latest first", () => {
    const logs = body().widgets.filter((w: any) => w.type === "log");
    expect(logs).toHaveLength(1);
    expect(logs[0].properties.region).toBe("eu-west-1");
    expect(logs[0].properties.query).toMatch(/^SOURCE '\/yolo-train\/dev\/run-1' \| fields @timestamp/);
    expect(logs[0].properties.query).toMatch(/sort @timestamp desc/);
  });

  it("appends extra widgets after the built-in ones", () => {
    const extra = metricWidget({ title: "mAP50-95", region: "eu-west-1", metrics: [["YoloTrain", "mAP50-95", "RunId", "r1"]] });
    const b = body({ ...INPUT, extraWidgets: [extra] });
    expect(b.widgets[b.widgets.length - 1].properties.title).toBe("mAP50-95");
    expect(b.widgets).toHaveLength(body().widgets.length + 1);
  });

  it("refuses names that would break out of a query string", () => {
    expect(() => renderDashboardBody({ ...INPUT, autoScalingGroupName: `a"b` })).toThrow(/quote/);
    expect(() => renderDashboardBody({ ...INPUT, logGroupName: "a'b" })).toThrow(/quote/);
  });
});

describe("searchExpression", () => {
  it("searches the exact dimension schema for one metric and group", () => {
    expect(searchExpression("CWAgent", ["AutoScalingGroupName", "InstanceId"], "nvidia_smi_utilization_gpu", { AutoScalingGroupName: "g" }, "Maximum", 60)).toBe(
      `SEARCH('{CWAgent,AutoScalingGroupName,InstanceId} MetricName="nvidia_smi_utilization_gpu" AutoScalingGroupName="g"', 'Maximum', 60)`,
    );
  });
});

describe("layoutWidgets", () => {
  it("never overlaps widgets and keeps them inside the 24-unit grid", () => {
    const widget = fc.record({ width: fc.integer({ min: 1, max: 24 }), height: fc.integer({ min: 1, max: 10 }) });
    fc.assert(
      fc.property(fc.array(widget, { maxLength: 30 }), (sizes) => {
        const placed = layoutWidgets(sizes.map((s) => ({ ...textWidget("x", s.width, s.height) })));
        for (const [i, a] of placed.entries()) {
          if (a.x < 0 || a.x + a.width > GRID_WIDTH) return false;
          for (const b of placed.slice(i + 1)) {
            const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
            if (!apart) return false;
          }
        }
        return true;
      }),
    );
  });

  it("keeps the given order, left to right then top to bottom", () => {
    const placed = layoutWidgets([textWidget("a", 12, 6), textWidget("b", 12, 4), textWidget("c", 24, 2)]);
    expect(placed.map((w) => [w.x, w.y])).toEqual([
      [0, 0],
      [12, 0],
      [0, 6],
    ]);
  });
});

describe("names and URLs", () => {
  it("derives a dashboard name from project, stack and run", () => {
    expect(dashboardNameFor(["yolo-train", "dev", "r-1a2b"])).toBe("yolo-train-dev-r-1a2b");
    // Characters a dashboard name refuses become `-`; the hash keeps team/dev.eu apart from a stack team-dev-eu.
    expect(dashboardNameFor(["yolo-train", "team/dev.eu", undefined])).toBe(`yolo-train-team-dev-eu-${nameHash("yolo-train-team/dev.eu")}`);
    expect(dashboardNameFor(["yolo-train", "team-dev-eu"])).toBe("yolo-train-team-dev-eu");
    expect(dashboardNameFor([])).toBe("yolo-train");
  });

  it("always yields a valid dashboard name, and different names for 100-character stacks that differ only in the middle", () => {
    const [a, b] = ["a", "b"].map((c) => `${"x".repeat(60)}${c}${"y".repeat(39)}`);
    expect(dashboardNameFor(["P".repeat(100), a, "r-1a2b"])).not.toBe(dashboardNameFor(["P".repeat(100), b, "r-1a2b"]));
    expect(dashboardNameFor(["P".repeat(100), a, "r-1a2b"]).length).toBeLessThanOrEqual(255);
    fc.assert(fc.property(fc.array(fc.string({ maxLength: 200 }), { maxLength: 4 }), (parts) => DASHBOARD_NAME.test(dashboardNameFor(parts))));
  });

  it("links the dashboard and the log group in the console", () => {
    expect(dashboardUrl("eu-west-1", "yolo-train-dev")).toBe(
      "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=yolo-train-dev",
    );
    expect(logGroupUrl("eu-west-1", "/yolo-train/dev")).toBe(
      "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fyolo-train$252Fdev",
    );
  });
});
