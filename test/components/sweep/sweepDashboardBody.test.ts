import { DASHBOARD_LIMITS, publishedSeriesOf, renderSweepDashboardBody, sweepDashboardWidgets, trialLabel, type SweepDashboardInput } from "../../../components/sweep/sweepDashboardBody";

function input(trials: number, metric = "metrics/mAP50-95(B)"): SweepDashboardInput {
  return {
    region: "us-east-1",
    title: "yolo-train vision/dev sweep sweep-0123456789ab",
    metric,
    direction: "maximize",
    trials: Array.from({ length: trials }, (_, i) => {
      const id = `t${String(i + 1).padStart(3, "0")}`;
      return {
        trialId: id,
        runId: `yolov8n-coco8-${String(i).padStart(10, "0")}`,
        groupName: `g-${id}`,
        logGroupName: `/yolo-train/g-${id}`,
        params: { imgsz: 640, lr0: 0.01 },
        alarmArns: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${id}-idle`, `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${id}-starved`],
      };
    }),
    keeperAlarmArns: ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:keeper-failed"],
    keeperLogGroupName: "keeper-logs",
  };
}

const ofType = (widgets: ReturnType<typeof sweepDashboardWidgets>, type: string) => widgets.filter((w) => w.type === type);

describe("the sweep dashboard", () => {
  it("labels each trial's line with its id and parameters", () => {
    expect(trialLabel({ trialId: "t03", params: { imgsz: 640, lr0: 0.01, optimizer: "SGD" } })).toBe("t03 imgsz=640 lr0=0.01 optimizer=SGD");
  });

  it("says that it plots against time, not epochs, and where metric against epoch is", () => {
    const text = sweepDashboardWidgets(input(3))[0]!.properties.markdown as string;
    expect(text).toContain("against time, not epochs");
    expect(text).toContain("yolo-train sweep leaderboard");
  });

  it("splits 120 trials into Logs Insights tables of at most 50 log groups, and alarms into widgets of at most 100", () => {
    const widgets = sweepDashboardWidgets(input(120));
    const trialTables = ofType(widgets, "log").filter((w) => String(w.properties.title).startsWith("Trials"));
    expect(trialTables.map((w) => (String(w.properties.query).match(/SOURCE '/g) ?? []).length)).toEqual([50, 50, 20]);
    expect(trialTables.map((w) => w.properties.title)).toEqual([
      "Trials: epochs and rung decisions, latest first (1 of 3)",
      "Trials: epochs and rung decisions, latest first (2 of 3)",
      "Trials: epochs and rung decisions, latest first (3 of 3)",
    ]);
    expect(ofType(widgets, "alarm").map((w) => (w.properties.alarms as string[]).length)).toEqual([100, 100, 41]);
    // 120 lines fit one graph of each.
    expect(ofType(widgets, "metric").map((w) => (w.properties.metrics as unknown[]).length)).toEqual([120, 120]);
  });

  it("splits a graph past CloudWatch's 500 metrics, and keeps the whole dashboard within 500 widgets", () => {
    const widgets = sweepDashboardWidgets(input(600));
    expect(ofType(widgets, "metric").map((w) => (w.properties.metrics as unknown[]).length)).toEqual([500, 100, 500, 100]);
    expect(widgets.length).toBeLessThanOrEqual(DASHBOARD_LIMITS.widgets);
    const body = JSON.parse(renderSweepDashboardBody(input(256))) as { widgets: { x: number; y: number; width: number }[] };
    for (const w of body.widgets) expect(w.x + w.width).toBeLessThanOrEqual(24);
  });

  it("graphs mAP50-95 for a metric the agent does not publish, and says so", () => {
    expect(publishedSeriesOf("metrics/mAP50(B)")).toEqual({ metricName: "mAP50", label: "mAP50", substitute: false });
    expect(publishedSeriesOf("metrics/recall(B)")).toEqual({ metricName: "mAP50-95", label: "mAP50-95", substitute: true });
    const widgets = sweepDashboardWidgets(input(2, "metrics/recall(B)"));
    expect(widgets[0]!.properties.markdown).toContain("not `metrics/recall(B)`");
  });

  it("refuses a log group name that would break the query", () => {
    const bad = input(1);
    expect(() => sweepDashboardWidgets({ ...bad, keeperLogGroupName: "it's" })).toThrow(/quote/);
  });
});
