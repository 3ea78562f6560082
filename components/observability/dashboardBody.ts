import {
  AUTOSCALING_NAMESPACE,
  CWAGENT_NAMESPACE,
  GPU_MEMORY_TOTAL_METRIC,
  GPU_MEMORY_USED_METRIC,
  GPU_UTILIZATION_METRIC,
  GROUP_DESIRED_CAPACITY_METRIC,
  GROUP_IN_SERVICE_INSTANCES_METRIC,
} from "../compute/gpuMetrics";
import { TRAINING_METRIC_DIMENSIONS, TRAINING_METRIC_NAMESPACE, TRAINING_METRICS } from "../../runspec/trainingMetricNames";
import { NAME_RULES, physicalName } from "../naming/physicalNames";

/**
 * The run dashboard's body, rendered from plain values: widget builders, a grid layout, and
 * `renderDashboardBody`. The training graphs read what the run agent publishes
 * (runspec/trainingMetricNames.ts); more sections are added by passing `extraWidgets` or by composing
 * the exported builders.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
 */

/** The dashboard grid is 24 units wide. */
export const GRID_WIDTH = 24;

/** One widget before layout: its kind, size and properties (position is computed). */
export interface DashboardWidget {
  readonly type: "metric" | "text" | "alarm" | "log";
  readonly width: number;
  readonly height: number;
  readonly properties: Record<string, unknown>;
}

/** A widget as the dashboard body holds it, with its grid position. */
export interface PlacedWidget extends DashboardWidget {
  readonly x: number;
  readonly y: number;
}

/**
 * One line of a metric widget: a metric (`[namespace, name, dim, value, …, {options}]`) or an
 * expression (`[{ expression, id, label }]`).
 */
export type MetricLine = readonly unknown[];

/** `[namespace, metricName, dimName, dimValue, …, { stat, label, … }]`. */
export function metricLine(
  namespace: string,
  metricName: string,
  dimensions: Readonly<Record<string, string>>,
  options: Readonly<Record<string, unknown>> = {},
): MetricLine {
  const dims = Object.entries(dimensions).flat();
  return Object.keys(options).length > 0 ? [namespace, metricName, ...dims, options] : [namespace, metricName, ...dims];
}

/** `[{ expression, id, label }]`: a math or SEARCH expression line. */
export function expressionLine(expression: string, id: string, label = ""): MetricLine {
  return [{ expression, id, label }];
}

/**
 * A CloudWatch SEARCH over series with exactly the schema `{namespace, ...dimensionNames}`.
 * Values are embedded between double quotes, so they may not contain quotes or backslashes.
 */
export function searchExpression(
  namespace: string,
  dimensionNames: readonly string[],
  metricName: string,
  filters: Readonly<Record<string, string>>,
  statistic: string,
  periodSeconds: number,
): string {
  const terms = [`MetricName="${safeQuoted(metricName)}"`, ...Object.entries(filters).map(([k, v]) => `${k}="${safeQuoted(v)}"`)];
  return `SEARCH('{${[namespace, ...dimensionNames].join(",")}} ${terms.join(" ")}', '${statistic}', ${periodSeconds})`;
}

function safeQuoted(value: string): string {
  if (/["'\\]/.test(value)) {
    throw new Error(`cannot embed ${JSON.stringify(value)} in a dashboard query: it contains a quote or backslash`);
  }
  return value;
}

export interface MetricWidgetOptions {
  readonly title: string;
  readonly region: string;
  readonly metrics: readonly MetricLine[];
  readonly stat?: string;
  readonly period?: number;
  readonly yAxis?: { readonly min?: number; readonly max?: number; readonly label?: string };
  readonly horizontalAnnotations?: readonly { readonly label: string; readonly value: number }[];
  readonly width?: number;
  readonly height?: number;
}

export function metricWidget(o: MetricWidgetOptions): DashboardWidget {
  return {
    type: "metric",
    width: o.width ?? 12,
    height: o.height ?? 6,
    properties: {
      title: o.title,
      region: o.region,
      view: "timeSeries",
      stacked: false,
      metrics: o.metrics,
      stat: o.stat ?? "Average",
      period: o.period ?? 60,
      ...(o.yAxis ? { yAxis: { left: { showUnits: false, ...o.yAxis } } } : {}),
      ...(o.horizontalAnnotations && o.horizontalAnnotations.length > 0
        ? { annotations: { horizontal: o.horizontalAnnotations.map((a) => ({ label: a.label, value: a.value })) } }
        : {}),
    },
  };
}

export function textWidget(markdown: string, width = GRID_WIDTH, height = 2): DashboardWidget {
  return { type: "text", width, height, properties: { markdown } };
}

/** Alarm status widget; CloudWatch takes 1 to 100 alarm ARNs. */
export function alarmWidget(title: string, alarmArns: readonly string[], width = GRID_WIDTH, height = 3): DashboardWidget {
  if (alarmArns.length < 1 || alarmArns.length > 100) {
    throw new Error(`an alarm widget lists 1 to 100 alarms, got ${alarmArns.length}`);
  }
  return { type: "alarm", width, height, properties: { title, alarms: [...alarmArns], sortBy: "stateUpdatedTimestamp" } };
}

/** Logs Insights query widget over one log group. */
export function logWidget(title: string, region: string, logGroupName: string, query: string, width = GRID_WIDTH, height = 8): DashboardWidget {
  return {
    type: "log",
    width,
    height,
    properties: { title, region, view: "table", query: `SOURCE '${safeQuoted(logGroupName)}' | ${query}` },
  };
}

/** Places widgets left to right in rows of {@link GRID_WIDTH}; a row is as tall as its tallest widget. */
export function layoutWidgets(widgets: readonly DashboardWidget[]): PlacedWidget[] {
  const placed: PlacedWidget[] = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const w of widgets) {
    const width = Math.min(Math.max(1, w.width), GRID_WIDTH);
    if (x + width > GRID_WIDTH) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    placed.push({ ...w, width, x, y });
    x += width;
    rowHeight = Math.max(rowHeight, w.height);
  }
  return placed;
}

export interface DashboardBodyInput {
  readonly region: string;
  readonly autoScalingGroupName: string;
  /** Alarms shown in the status widget; the widget is left out when empty. */
  readonly alarmArns: readonly string[];
  /** Log group of the run's containers, for the Logs Insights widget. */
  readonly logGroupName: string;
  /** Heading text, e.g. the stack and run id. */
  readonly title: string;
  /**
   * The run whose training metrics are graphed; without it the training graphs show every run
   * of the group (a SEARCH over `RunId`).
   */
  readonly runId?: string;
  /** Draws the idle threshold on the utilisation graphs. */
  readonly idleGpuPercent?: number;
  /** Draws the starved threshold on the utilisation graphs. */
  readonly starvedGpuPercent?: number;
  /** Further widgets after the built-in ones (e.g. training metrics). */
  readonly extraWidgets?: readonly DashboardWidget[];
}

/** The built-in widgets of the run dashboard, in order. */
export function runDashboardWidgets(input: DashboardBodyInput): DashboardWidget[] {
  const { region, autoScalingGroupName: group } = input;
  const byGroup = { AutoScalingGroupName: group };
  const thresholds = [
    ...(input.idleGpuPercent !== undefined ? [{ label: "idle", value: input.idleGpuPercent }] : []),
    ...(input.starvedGpuPercent !== undefined ? [{ label: "starved", value: input.starvedGpuPercent }] : []),
  ];
  const perNode = (metricName: string, statistic: string) =>
    searchExpression(CWAGENT_NAMESPACE, ["AutoScalingGroupName", "InstanceId"], metricName, byGroup, statistic, 60);

  const widgets: DashboardWidget[] = [
    textWidget(
      `# ${input.title}\nGPU group \`${group}\`. Managed by yolo-train (Pulumi): edits made in the console are overwritten by the next \`pulumi up\`.`,
    ),
    metricWidget({
      title: "GPU utilisation, group (%)",
      region,
      metrics: [
        metricLine(CWAGENT_NAMESPACE, GPU_UTILIZATION_METRIC, byGroup, { stat: "Maximum", label: "busiest GPU" }),
        metricLine(CWAGENT_NAMESPACE, GPU_UTILIZATION_METRIC, byGroup, { stat: "Average", label: "mean GPU" }),
        metricLine(CWAGENT_NAMESPACE, GPU_UTILIZATION_METRIC, byGroup, { stat: "Minimum", label: "least busy GPU" }),
      ],
      yAxis: { min: 0, max: 100 },
      horizontalAnnotations: thresholds,
    }),
    metricWidget({
      title: "GPU utilisation per node, busiest GPU (%)",
      region,
      metrics: [expressionLine(perNode(GPU_UTILIZATION_METRIC, "Maximum"), "perNodeUtilization")],
      yAxis: { min: 0, max: 100 },
      horizontalAnnotations: thresholds,
    }),
    metricWidget({
      title: "GPU memory used per node, fullest GPU (MiB)",
      region,
      metrics: [
        expressionLine(perNode(GPU_MEMORY_USED_METRIC, "Maximum"), "perNodeMemoryUsed"),
        metricLine(CWAGENT_NAMESPACE, GPU_MEMORY_TOTAL_METRIC, byGroup, { stat: "Maximum", label: "GPU memory total" }),
      ],
      yAxis: { min: 0 },
    }),
    metricWidget({
      title: "Instances (needs group metrics collection)",
      region,
      metrics: [
        metricLine(AUTOSCALING_NAMESPACE, GROUP_IN_SERVICE_INSTANCES_METRIC, byGroup, { stat: "Maximum", label: "in service" }),
        metricLine(AUTOSCALING_NAMESPACE, GROUP_DESIRED_CAPACITY_METRIC, byGroup, { stat: "Maximum", label: "desired" }),
      ],
      yAxis: { min: 0 },
    }),
  ];
  widgets.push(...trainingWidgets(input));
  if (input.alarmArns.length > 0) widgets.push(alarmWidget("Guardrail alarms", input.alarmArns));
  widgets.push(
    logWidget(
      "Run log (latest first)",
      region,
      input.logGroupName,
      "fields @timestamp, @logStream, @message | sort @timestamp desc | limit 200",
    ),
  );
  return widgets;
}

/** Epochs are minutes apart: a shorter period would draw mostly gaps. */
const TRAINING_PERIOD_SECONDS = 300;

/**
 * What the run agent publishes (agent/trainingMetrics.ts): epoch progress, mAP, images/s, spot
 * interruptions and attempts, cost so far. One line per run: the run's series when `runId` is
 * given, else a SEARCH over the group's runs.
 */
export function trainingWidgets(input: Pick<DashboardBodyInput, "region" | "autoScalingGroupName" | "runId">): DashboardWidget[] {
  const { region, autoScalingGroupName: group, runId } = input;
  const line = (metricName: string, stat: string, label: string, id: string): MetricLine =>
    runId !== undefined
      ? metricLine(TRAINING_METRIC_NAMESPACE, metricName, { RunId: runId, AutoScalingGroupName: group }, { stat, label })
      : expressionLine(
          searchExpression(TRAINING_METRIC_NAMESPACE, TRAINING_METRIC_DIMENSIONS, metricName, { AutoScalingGroupName: group }, stat, TRAINING_PERIOD_SECONDS),
          id,
          label,
        );
  const m = TRAINING_METRICS;
  const widget = (title: string, metrics: MetricLine[], yAxis: MetricWidgetOptions["yAxis"], width = 12): DashboardWidget =>
    metricWidget({ title, region, metrics, period: TRAINING_PERIOD_SECONDS, stat: "Maximum", yAxis, width });
  return [
    widget(
      "Epoch progress (current phase)",
      [line(m.epoch.name, "Maximum", "epoch", "epoch"), line(m.epochsTotal.name, "Maximum", "epochs", "epochsTotal")],
      { min: 0 },
    ),
    widget(
      "Validation mAP (boxes)",
      [line(m.mAP50_95.name, "Maximum", "mAP50-95", "map5095"), line(m.mAP50.name, "Maximum", "mAP50", "map50")],
      { min: 0, max: 1 },
    ),
    widget("Training throughput (images/s)", [line(m.imagesPerSecond.name, "Average", "images/s", "imagesPerSecond")], { min: 0 }, 8),
    widget(
      "Spot interruptions and trainer attempts",
      [line(m.spotInterruptions.name, "Maximum", "spot interruptions", "interruptions"), line(m.attempts.name, "Maximum", "attempts", "attempts")],
      { min: 0 },
      8,
    ),
    widget("Estimated cost so far (USD)", [line(m.estimatedCostUsd.name, "Maximum", "USD", "cost")], { min: 0 }, 8),
  ];
}

/** The dashboard body JSON: the built-in widgets, then `extraWidgets`, laid out on the grid. */
export function renderDashboardBody(input: DashboardBodyInput): string {
  const widgets = [...runDashboardWidgets(input), ...(input.extraWidgets ?? [])];
  return JSON.stringify({ start: "-PT12H", periodOverride: "inherit", widgets: layoutWidgets(widgets) });
}

/** Dashboard names: 1-255 of A-Z a-z 0-9 - _. */
export const DASHBOARD_NAME = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * `<project>-<stack>[-<runId>]` as a dashboard name: as it is when it fits the rule, else cleaned
 * (other characters become `-`) and shortened to 255 with a hash of the whole (`physicalName`), so
 * two stacks never share a dashboard.
 */
export function dashboardNameFor(parts: readonly (string | undefined)[]): string {
  const joined = parts.filter((p): p is string => p !== undefined && p !== "").join("-");
  return joined === "" ? "yolo-train" : physicalName(NAME_RULES.dashboard, joined);
}

/** Console URL of a dashboard. (Commercial partition; GovCloud and China consoles differ.) */
export function dashboardUrl(region: string, dashboardName: string): string {
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${encodeURIComponent(dashboardName)}`;
}

/**
 * Console URL of a log group. The console double-encodes the fragment: `/` → `%2F` → `$252F`.
 */
export function logGroupUrl(region: string, logGroupName: string): string {
  const encoded = encodeURIComponent(logGroupName).replace(/%/g, "$25");
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${encoded}`;
}
