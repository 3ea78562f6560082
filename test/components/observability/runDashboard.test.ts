import * as pulumi from "@pulumi/pulumi";
import { metricWidget } from "../../../components/observability/dashboardBody";
import { RunDashboard } from "../../../components/observability/runDashboard";
import { InvalidInputError } from "../../../runspec/problems";
import { OfflineRuntime, valueOf } from "../../../offline/offlineRuntime";

const DASHBOARD = "aws:cloudwatch/dashboard:Dashboard";

let runtime: OfflineRuntime;
beforeAll(async () => {
  runtime = await OfflineRuntime.start({ region: "eu-west-1", stack: "test" });
});

function dashboardOf(name: string) {
  const found = runtime.ofType(DASHBOARD).filter((r) => r.name === `${name}-dashboard`);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe("RunDashboard", () => {
  let d: RunDashboard;
  const idleArn = pulumi.output("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:g-gpu-idle-1");
  const starvedArn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:g-gpu-starved-1";

  beforeAll(async () => {
    d = new RunDashboard("run", {
      autoScalingGroupName: pulumi.output("gpu-asg-0a1b2c3"),
      alarmArns: [idleArn, starvedArn],
      logGroupName: "/yolo-train/test",
      runId: "r1a2b",
      idleGpuPercent: 5,
      starvedGpuPercent: 60,
      extraWidgets: [metricWidget({ title: "training", region: "eu-west-1", metrics: [["YoloTrain", "mAP50-95", "RunId", "r1a2b"]] })],
    });
    await Promise.all([valueOf(d.dashboardName), valueOf(d.dashboardUrl), valueOf(d.logsUrl)]);
  });

  it("names the dashboard after project, stack and run", async () => {
    expect(dashboardOf("run").inputs.dashboardName).toBe("yolo-train-test-r1a2b");
    expect(await valueOf(d.dashboardName)).toBe("yolo-train-test-r1a2b");
  });

  it("renders the body for the group, region, alarms and log group", () => {
    const body = JSON.parse(dashboardOf("run").inputs.dashboardBody);
    const alarm = body.widgets.find((w: any) => w.type === "alarm");
    expect(alarm.properties.alarms).toEqual([
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:g-gpu-idle-1",
      "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:g-gpu-starved-1",
    ]);
    const log = body.widgets.find((w: any) => w.type === "log");
    expect(log.properties.query).toMatch(/^SOURCE '\/yolo-train\/test' \|/);
    for (const w of body.widgets.filter((w: any) => w.type === "metric")) expect(w.properties.region).toBe("eu-west-1");
    expect(JSON.stringify(body)).toContain("gpu-asg-0a1b2c3");
    expect(body.widgets[body.widgets.length - 1].properties.title).toBe("training");
    expect(body.widgets[0].properties.markdown).toContain("run r1a2b");
  });

  it("graphs the run's own training series (RunId dimension) the agent publishes", () => {
    const body = JSON.parse(dashboardOf("run").inputs.dashboardBody);
    const epoch = body.widgets.find((w: any) => w.properties.title === "Epoch progress (current phase)");
    expect(epoch.properties.metrics[0].slice(0, 6)).toEqual(["YoloTrain", "Epoch", "RunId", "r1a2b", "AutoScalingGroupName", "gpu-asg-0a1b2c3"]);
  });

  it("links the dashboard and the logs in the stack's region", async () => {
    expect(await valueOf(d.dashboardUrl)).toBe(
      "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=yolo-train-test-r1a2b",
    );
    expect(await valueOf(d.logsUrl)).toBe(
      "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fyolo-train$252Ftest",
    );
  });

  it("is the parent of its dashboard", () => {
    const component = runtime.ofType("yolo-train:observability:RunDashboard").filter((r) => r.name === "run");
    expect(component).toHaveLength(1);
    expect(dashboardOf("run").parentUrn).toBe(component[0]!.urn);
  });

  it("uses only invokes the fake account knows", () => {
    expect(runtime.cloud.unknownInvokes).toEqual([]);
    expect(runtime.cloud.invokes.map((i) => i.token)).toContain("aws:index/getRegion:getRegion");
  });
});

describe("RunDashboard with an explicit name and no alarms", () => {
  it("uses the name as given and leaves the alarm widget out", async () => {
    const d = new RunDashboard("named", { autoScalingGroupName: "g", logGroupName: "/lg", dashboardName: "my_Dash-1" });
    expect(await valueOf(d.dashboardName)).toBe("my_Dash-1");
    const body = JSON.parse(dashboardOf("named").inputs.dashboardBody);
    expect(body.widgets.some((w: any) => w.type === "alarm")).toBe(false);
  });
});

describe("RunDashboard with invalid arguments", () => {
  it.each<[string, Record<string, unknown>, string]>([
    ["dashboardName with a space", { dashboardName: "has space" }, "RunDashboard.dashboardName"],
    ["empty dashboardName", { dashboardName: "" }, "RunDashboard.dashboardName"],
    ["list of 101 alarmArns", { alarmArns: Array.from({ length: 101 }, (_, i) => `arn:${i}`) }, "RunDashboard.alarmArns"],
    ["idleGpuPercent of 0", { idleGpuPercent: 0 }, "RunDashboard.idleGpuPercent"],
    ["starvedGpuPercent of 100", { starvedGpuPercent: 100 }, "RunDashboard.starvedGpuPercent"],
  ])("rejects a %s, naming it, and registers nothing", async (_arg, extra, key) => {
    const before = runtime.resources.length;
    const make = () => new RunDashboard("bad", { autoScalingGroupName: "g", logGroupName: "/lg", ...extra });
    expect(make).toThrow(InvalidInputError);
    expect(make).toThrow(key);
    await new Promise((r) => setTimeout(r, 20));
    expect(runtime.resources.length).toBe(before);
  });
});
