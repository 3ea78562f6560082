import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList } from "../../runspec/problems";
import {
  DASHBOARD_NAME,
  type DashboardWidget,
  dashboardNameFor,
  dashboardUrl,
  logGroupUrl,
  renderDashboardBody,
} from "./dashboardBody";

export interface RunDashboardArgs {
  /**
   * The GPU Auto Scaling group. Its instance-count graph needs the group's metrics collection
   * enabled (`metricsGranularity: "1Minute"`, with `GroupInServiceInstances` and
   * `GroupDesiredCapacity` among `enabledMetrics`).
   */
  readonly autoScalingGroupName: pulumi.Input<string>;
  /**
   * Alarms shown in the status widget (e.g. the guardrails' idle and starved alarms), at most 100.
   * @default no alarm widget
   */
  readonly alarmArns?: pulumi.Input<string>[];
  /** Log group the run's containers write to; shown with a Logs Insights query. */
  readonly logGroupName: pulumi.Input<string>;
  /**
   * The run id, appended to the dashboard name and shown in its heading.
   * @default the dashboard is named after the project and stack only
   */
  readonly runId?: string;
  /**
   * Dashboard name: 1-255 of A-Z a-z 0-9 - _. Dashboards are global to the account, so the
   * default includes project and stack.
   * @default `<project>-<stack>[-<runId>]`, other characters replaced by `-`
   */
  readonly dashboardName?: string;
  /**
   * Draws the idle threshold on the GPU graphs.
   * @default no line
   */
  readonly idleGpuPercent?: number;
  /**
   * Draws the starved threshold on the GPU graphs.
   * @default no line
   */
  readonly starvedGpuPercent?: number;
  /**
   * Further widgets after the built-in ones (e.g. training metrics); see `dashboardBody.ts`.
   * @default none
   */
  readonly extraWidgets?: readonly DashboardWidget[];
}

/**
 * A CloudWatch dashboard for one run: GPU utilisation (group and per node), GPU memory,
 * instances in service, the training metrics the run agent publishes (epoch progress, mAP,
 * images/s, spot interruptions, cost), the guardrail alarms and the run log. CloudWatch dashboards take no
 * tags, so this component has no `tags` argument.
 */
export class RunDashboard extends pulumi.ComponentResource {
  readonly dashboardName: pulumi.Output<string>;
  readonly dashboardUrl: pulumi.Output<string>;
  readonly logsUrl: pulumi.Output<string>;

  constructor(name: string, args: RunDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    validateRunDashboardArgs(args);
    super("yolo-train:observability:RunDashboard", name, {}, opts);

    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    const dashboardName = args.dashboardName ?? dashboardNameFor([project, stack, args.runId]);
    const region = aws.getRegionOutput({}, { parent: this }).region;
    const title = `yolo-train ${project}/${stack}${args.runId ? ` run ${args.runId}` : ""}`;

    const body = pulumi
      .all([region, args.autoScalingGroupName, args.logGroupName, pulumi.all(args.alarmArns ?? [])])
      .apply(([r, group, logGroupName, alarmArns]) =>
        renderDashboardBody({
          region: r,
          autoScalingGroupName: group,
          logGroupName,
          alarmArns,
          title,
          ...(args.runId !== undefined ? { runId: args.runId } : {}),
          ...(args.idleGpuPercent !== undefined ? { idleGpuPercent: args.idleGpuPercent } : {}),
          ...(args.starvedGpuPercent !== undefined ? { starvedGpuPercent: args.starvedGpuPercent } : {}),
          ...(args.extraWidgets ? { extraWidgets: args.extraWidgets } : {}),
        }),
      );

    const dashboard = new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      { dashboardName, dashboardBody: body },
      { parent: this },
    );

    this.dashboardName = dashboard.dashboardName;
    this.dashboardUrl = pulumi.all([region, dashboard.dashboardName]).apply(([r, n]) => dashboardUrl(r, n));
    this.logsUrl = pulumi.all([region, args.logGroupName]).apply(([r, lg]) => logGroupUrl(r, lg));

    this.registerOutputs({
      dashboardName: this.dashboardName,
      dashboardUrl: this.dashboardUrl,
      logsUrl: this.logsUrl,
    });
  }
}

/** Checks what can be checked before anything is created; throws every problem at once. */
export function validateRunDashboardArgs(args: RunDashboardArgs): void {
  const problems = new ProblemList();
  if (args.dashboardName !== undefined && !DASHBOARD_NAME.test(args.dashboardName)) {
    problems.add({
      key: "RunDashboard.dashboardName",
      value: args.dashboardName,
      allowed: "1 to 255 characters of A-Z, a-z, 0-9, - and _",
      fix: "e.g. yolo-train-dev, or omit it to derive one from the project and stack",
    });
  }
  if (args.alarmArns !== undefined && args.alarmArns.length > 100) {
    problems.add({
      key: "RunDashboard.alarmArns",
      value: `${args.alarmArns.length} alarms`,
      allowed: "at most 100 alarms (the alarm status widget's limit)",
      fix: "pass only the guardrail alarms",
    });
  }
  for (const arg of ["idleGpuPercent", "starvedGpuPercent"] as const) {
    const value = args[arg];
    if (value !== undefined && !(typeof value === "number" && value > 0 && value < 100)) {
      problems.add({ key: `RunDashboard.${arg}`, value, allowed: "a percentage greater than 0 and less than 100", fix: "pass the guardrails' value, or omit it" });
    }
  }
  problems.throwIfAny("RunDashboard");
}
