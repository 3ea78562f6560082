import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { AutoScalingFake } from "./autoScalingFake";

let asg: AutoScalingFake;
let client: AutoScalingClient;
beforeEach(async () => {
  asg = await AutoScalingFake.start();
  asg.addGroup("yolo-train-dev-run", ["i-0aaaaaaaaaaaaaaa1"]);
  client = new AutoScalingClient({ region: "us-east-1", endpoint: asg.endpoint, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
});
afterEach(async () => {
  client.destroy();
  await asg.close();
});

describe("AutoScalingFake", () => {
  it("answers TerminateInstanceInAutoScalingGroup from the real SDK with an activity the SDK parses", async () => {
    const answer = await client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: "i-0aaaaaaaaaaaaaaa1", ShouldDecrementDesiredCapacity: true }));
    expect(answer.Activity).toMatchObject({
      AutoScalingGroupName: "yolo-train-dev-run",
      Description: "Terminating EC2 instance: i-0aaaaaaaaaaaaaaa1",
      StatusCode: "InProgress",
      Progress: 0,
    });
    expect(answer.Activity?.ActivityId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.Activity?.StartTime).toBeInstanceOf(Date);
    expect(answer.Activity?.Cause).toContain("shrinking the capacity from 1 to 0");
  });

  it("records the call's action, parameters, API version and signature", async () => {
    await client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: "i-0aaaaaaaaaaaaaaa1", ShouldDecrementDesiredCapacity: true }));
    expect(asg.calls).toHaveLength(1);
    expect(asg.calls[0]).toMatchObject({
      action: "TerminateInstanceInAutoScalingGroup",
      params: { InstanceId: "i-0aaaaaaaaaaaaaaa1", ShouldDecrementDesiredCapacity: "true" },
      version: "2011-01-01",
      signed: true,
      status: 200,
    });
    expect(asg.terminations).toEqual([{ InstanceId: "i-0aaaaaaaaaaaaaaa1", ShouldDecrementDesiredCapacity: "true" }]);
    expect(asg.desiredCapacity("yolo-train-dev-run")).toBe(0);
  });

  it("keeps desired capacity when the call does not decrement it", async () => {
    await client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: "i-0aaaaaaaaaaaaaaa1", ShouldDecrementDesiredCapacity: false }));
    expect(asg.desiredCapacity("yolo-train-dev-run")).toBe(1);
  });

  it("rejects an instance that is in no group with the API's ValidationError", async () => {
    await expect(client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: "i-0bbbbbbbbbbbbbbb2", ShouldDecrementDesiredCapacity: true }))).rejects.toMatchObject({
      name: "ValidationError",
      message: "Instance Id not found - No managed instance found for instance ID: i-0bbbbbbbbbbbbbbb2",
    });
  });

  it("answers actions it does not implement with InvalidAction, and records them", async () => {
    await expect(client.send(new DescribeScalingActivitiesCommand({}))).rejects.toMatchObject({ name: "InvalidAction" });
    expect(asg.calls.map((c) => c.action)).toEqual(["DescribeScalingActivities"]);
  });

  it("describes a group's sizes and instances in a shape the SDK parses, leaving out groups it does not know", async () => {
    const answer = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["yolo-train-dev-run", "other"] }));
    expect(answer.AutoScalingGroups).toHaveLength(1);
    expect(answer.AutoScalingGroups![0]).toMatchObject({ AutoScalingGroupName: "yolo-train-dev-run", MinSize: 0, DesiredCapacity: 1 });
    expect(answer.AutoScalingGroups![0]!.Instances).toEqual([expect.objectContaining({ InstanceId: "i-0aaaaaaaaaaaaaaa1", LifecycleState: "InService" })]);
  });

  it("keeps the MaxSize an update sets, reports it, and refuses a desired capacity above it as the service does", async () => {
    asg.addGroup("yolo-train-dev-t01", []);
    await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: "yolo-train-dev-t01", MaxSize: 1, DesiredCapacity: 1 }));
    expect([asg.desiredCapacity("yolo-train-dev-t01"), asg.maxSize("yolo-train-dev-t01")]).toEqual([1, 1]);
    const described = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["yolo-train-dev-t01"] }));
    expect(described.AutoScalingGroups?.[0]).toMatchObject({ MinSize: 0, MaxSize: 1, DesiredCapacity: 1, Instances: [] });
    await expect(client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: "yolo-train-dev-t01", DesiredCapacity: 2 }))).rejects.toMatchObject({
      name: "ValidationError",
      message: "Desired capacity:2 must be between the specified min size:0 and max size:1",
    });
    expect(asg.desiredCapacity("yolo-train-dev-t01")).toBe(1);
  });

  it("lists scaled-in instances as Terminating for a few describes when termination is slow", async () => {
    asg.slowTermination("yolo-train-dev-run", 2);
    await client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: "yolo-train-dev-run", MinSize: 0, DesiredCapacity: 0 }));
    const states = async (): Promise<Array<string | undefined>> =>
      ((await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["yolo-train-dev-run"] }))).AutoScalingGroups![0]!.Instances ?? []).map((i) => i.LifecycleState);
    expect(await states()).toEqual(["Terminating"]);
    expect(await states()).toEqual(["Terminating"]);
    expect(await states()).toEqual([]);
  });

  it("fails the next calls on request, which the SDK retries as transient", async () => {
    asg.failNext(1);
    const answer = await client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: "i-0aaaaaaaaaaaaaaa1", ShouldDecrementDesiredCapacity: true }));
    expect(answer.$metadata.attempts).toBe(2);
    expect(asg.calls.map((c) => c.status)).toEqual([500, 200]);
  });

  it("is reached through AWS_ENDPOINT_URL_AUTO_SCALING, as the agent configures it", async () => {
    const saved = process.env.AWS_ENDPOINT_URL_AUTO_SCALING;
    process.env.AWS_ENDPOINT_URL_AUTO_SCALING = asg.endpoint;
    const fromEnv = new AutoScalingClient({ region: "us-east-1", credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
    try {
      await fromEnv.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: "i-0aaaaaaaaaaaaaaa1", ShouldDecrementDesiredCapacity: true }));
      expect(asg.terminations).toHaveLength(1);
    } finally {
      fromEnv.destroy();
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_AUTO_SCALING;
      else process.env.AWS_ENDPOINT_URL_AUTO_SCALING = saved;
    }
  });
});
