/**
 * The sweep dashboard's body, rendered from plain values with the run dashboard's builders
 * (observability/dashboardBody.ts). Pure: no resources, no I/O.
 *
 * One dashboard for the whole sweep: the sweep's metric and the epoch of every trial (one line per
 * trial, labelled with its id and parameters), the guardrail alarms of every trial and the
 * keeper's, and Logs Insights tables over the trials' logs. **CloudWatch graphs plot against time,
 * not against epochs**: trials that start at different times, or train at different speeds, are
 * side by side in time, so the graph shows who is ahead now, not who learns faster per epoch. For
 * metric against epoch, per trial, use `yolo-train sweep leaderboard --csv` (the rung records and
 * run records hold the per-epoch values).
 *
 * AWS limits, handled by splitting (never by dropping a trial): a dashboard holds at most 500
 * widgets, a metric widget at most 500 metrics, an alarm widget 1 to 100 alarms, and a Logs
 * Insights query at most 50 log groups. A sweep has at most 256 trials (config/sweep/limits.ts),
 * so today only the alarm and log tables are ever split; the metric split is there for sweeps
 * passed in code.
 */
import { TRAINING_METRIC_NAMESPACE, TRAINING_METRICS } from "../../runspec/trainingMetricNames";
import {
  alarmWidget,
  layoutWidgets,
  metricLine,
  metricWidget,
  textWidget,
  type DashboardWidget,
  type MetricLine,
} from "../observability/dashboardBody";

/** CloudWatch's limits on a dashboard body. */
export const DASHBOARD_LIMITS = Object.freeze({
  /** Widgets of one dashboard. @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html */
  widgets: 500,
  /** Metrics (lines) of one metric widget. */
  metricsPerWidget: 500,
  /** Alarms of one alarm status widget. */
  alarmsPerWidget: 100,
  /** Log groups one Logs Insights query reads. */
  logGroupsPerQuery: 50,
});

/** One trial as the dashboard shows it. */
export interface SweepDashboardTrial {
  readonly trialId: string;
  readonly runId: string;
  /** Its group: a dimension of every datum the agent publishes. */
  readonly groupName: string;
  readonly logGroupName: string;
  /** Its values, for the line's label (`t03 imgsz=640 lr0=0.01`). */
  readonly params: Readonly<Record<string, string | number | boolean>>;
  /** Its guardrail alarms (idle, starved). */
  readonly alarmArns: readonly string[];
}

export interface SweepDashboardInput {
  readonly region: string;
  /** Heading, e.g. `yolo-train vision/dev sweep sweep-1a2b3c4d5e6f`. */
  readonly title: string;
  /** The metric the sweep ranks by, as ultralytics names it (`metrics/mAP50-95(B)`). */
  readonly metric: string;
  readonly direction: "maximize" | "minimize";
  readonly trials: readonly SweepDashboardTrial[];
  /** The keeper's alarms (its failures), shown with the trials'. */
  readonly keeperAlarmArns: readonly string[];
  /** The keeper's log group: its rounds (what it started, what waits and why). */
  readonly keeperLogGroupName: string;
}

/** Epochs are minutes apart: a shorter period would draw mostly gaps (as on the run dashboard). */
const TRAINING_PERIOD_SECONDS = 300;

/**
 * The series the agent publishes for the sweep's metric: mAP50-95 and mAP50 are published per
 * epoch (runspec/trainingMetricNames.ts); precision and recall are not, so a sweep ranked by them
 * graphs mAP50-95 and says so.
 */
export function publishedSeriesOf(metric: string): { readonly metricName: string; readonly label: string; readonly substitute: boolean } {
  if (metric === "metrics/mAP50-95(B)") return { metricName: TRAINING_METRICS.mAP50_95.name, label: "mAP50-95", substitute: false };
  if (metric === "metrics/mAP50(B)") return { metricName: TRAINING_METRICS.mAP50.name, label: "mAP50", substitute: false };
  return { metricName: TRAINING_METRICS.mAP50_95.name, label: "mAP50-95", substitute: true };
}

/** A trial's line label: its id and values, `t03 imgsz=640 lr0=0.01`. */
export function trialLabel(trial: Pick<SweepDashboardTrial, "trialId" | "params">): string {
  const values = Object.entries(trial.params).map(([key, value]) => `${key}=${String(value)}`);
  return [trial.trialId, ...values].join(" ");
}

/** `items` in consecutive chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunks: size must be a whole number ≥ 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** ` (2 of 3)` when a graph or table is one of several, else nothing. */
function part(i: number, n: number): string {
  return n > 1 ? ` (${i + 1} of ${n})` : "";
}

/** The widgets, in order: heading, metric per trial, epoch per trial, alarms, Logs Insights tables. */
export function sweepDashboardWidgets(input: SweepDashboardInput): DashboardWidget[] {
  if (input.trials.length === 0) throw new Error("a sweep dashboard needs at least one trial");
  const { region } = input;
  const series = publishedSeriesOf(input.metric);
  const widgets: DashboardWidget[] = [
    textWidget(
      `# ${input.title}\n` +
        `${input.trials.length} trials, ranked by \`${input.metric}\` (${input.direction}). ` +
        "**The graphs plot against time, not epochs**: trials started at different times or training at different speeds sit side by side in time. " +
        "For the metric against epochs, and every trial's $ and phase, run `yolo-train sweep leaderboard` (`--csv` for a plot). " +
        (series.substitute ? `The agent publishes mAP50-95 and mAP50 per epoch, not \`${input.metric}\`: the first graph shows mAP50-95. ` : "") +
        "Managed by yolo-train (Pulumi): console edits are overwritten by the next `pulumi up`.",
      24,
      3,
    ),
  ];
  const line = (trial: SweepDashboardTrial, metricName: string, stat: string): MetricLine =>
    metricLine(TRAINING_METRIC_NAMESPACE, metricName, { RunId: trial.runId, AutoScalingGroupName: trial.groupName }, { stat, label: trialLabel(trial) });
  const graphs = (title: string, metricName: string, yAxis: { min?: number; max?: number }): DashboardWidget[] => {
    const groups = chunks(input.trials, DASHBOARD_LIMITS.metricsPerWidget);
    return groups.map((trials, i) =>
      metricWidget({
        title: `${title}${part(i, groups.length)}`,
        region,
        metrics: trials.map((t) => line(t, metricName, "Maximum")),
        stat: "Maximum",
        period: TRAINING_PERIOD_SECONDS,
        yAxis,
        width: 12,
        height: 8,
      }),
    );
  };
  widgets.push(...graphs(`${series.label} per trial, against time`, series.metricName, { min: 0, max: 1 }));
  widgets.push(...graphs("Epoch per trial, against time (current phase)", TRAINING_METRICS.epoch.name, { min: 0 }));

  const alarms = [...input.keeperAlarmArns, ...input.trials.flatMap((t) => t.alarmArns)];
  const alarmGroups = chunks(alarms, DASHBOARD_LIMITS.alarmsPerWidget);
  alarmGroups.forEach((arns, i) => widgets.push(alarmWidget(`Guardrail and keeper alarms${part(i, alarmGroups.length)}`, arns, 24, 4)));

  // Logs Insights: the agent's JSON lines carry `event`; `epoch` lines have the epoch, `rung-decision`
  // lines the trial, the metric's value at the rung and whether it went on. `@log` names the trial's
  // log group, which ends with its run id.
  const query =
    "fields @timestamp, @log, event, trialId, epoch, epochs, value, promote, cutoff, reason" +
    ' | filter event in ["epoch", "rung-decision"]' +
    " | sort @timestamp desc | limit 500";
  const logGroups = chunks(input.trials.map((t) => t.logGroupName), DASHBOARD_LIMITS.logGroupsPerQuery);
  logGroups.forEach((names, i) => widgets.push(logsInsightsWidget(`Trials: epochs and rung decisions, latest first${part(i, logGroups.length)}`, region, names, query)));
  widgets.push(
    logsInsightsWidget("Keeper rounds, latest first", region, [input.keeperLogGroupName], "fields @timestamp, @message | sort @timestamp desc | limit 200", 8),
  );

  if (widgets.length > DASHBOARD_LIMITS.widgets) {
    throw new Error(`the sweep dashboard would have ${widgets.length} widgets, more than CloudWatch's ${DASHBOARD_LIMITS.widgets}`);
  }
  return widgets;
}

/**
 * A Logs Insights table over several log groups (`SOURCE '<a>' | SOURCE '<b>' | <query>`), at most
 * {@link DASHBOARD_LIMITS.logGroupsPerQuery}; names may not contain quotes or backslashes.
 */
export function logsInsightsWidget(title: string, region: string, logGroupNames: readonly string[], query: string, height = 10): DashboardWidget {
  if (logGroupNames.length < 1 || logGroupNames.length > DASHBOARD_LIMITS.logGroupsPerQuery) {
    throw new Error(`a Logs Insights widget reads 1 to ${DASHBOARD_LIMITS.logGroupsPerQuery} log groups, got ${logGroupNames.length}`);
  }
  for (const name of logGroupNames) {
    if (/["'\\]/.test(name)) throw new Error(`cannot embed log group ${JSON.stringify(name)} in a dashboard query: it contains a quote or backslash`);
  }
  const sources = logGroupNames.map((name) => `SOURCE '${name}'`).join(" | ");
  return { type: "log", width: 24, height, properties: { title, region, view: "table", query: `${sources} | ${query}` } };
}

/** The dashboard body JSON: the widgets laid out on the grid, the last 24 hours. */
export function renderSweepDashboardBody(input: SweepDashboardInput): string {
  return JSON.stringify({ start: "-PT24H", periodOverride: "inherit", widgets: layoutWidgets(sweepDashboardWidgets(input)) });
}
