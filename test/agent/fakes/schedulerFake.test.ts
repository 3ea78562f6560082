import { GetScheduleCommand, ResourceNotFoundException, SchedulerClient, UpdateScheduleCommand, ValidationException } from "@aws-sdk/client-scheduler";
import { SchedulerFake } from "./schedulerFake";

let scheduler: SchedulerFake;
let client: SchedulerClient;
const TARGET = { Arn: "arn:aws:scheduler:::aws-sdk:autoscaling:updateAutoScalingGroup", RoleArn: "arn:aws:iam::111122223333:role/backstop", Input: '{"AutoScalingGroupName":"g","MinSize":0,"DesiredCapacity":0}' };
beforeEach(async () => {
  scheduler = await SchedulerFake.start();
  scheduler.addSchedule({ Name: "backstop", ScheduleExpression: "at(2026-12-01T00:00:00)", ScheduleExpressionTimezone: "UTC", FlexibleTimeWindow: { Mode: "OFF" }, Description: "the backstop", Target: TARGET });
  client = new SchedulerClient({ region: "us-east-1", endpoint: scheduler.endpoint, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, maxAttempts: 1 });
});
afterEach(async () => {
  client.destroy();
  await scheduler.close();
});

describe("SchedulerFake", () => {
  it("answers GetSchedule from the real SDK in the shape it parses, and records the signed call", async () => {
    const answer = await client.send(new GetScheduleCommand({ Name: "backstop" }));
    expect(answer).toMatchObject({
      Name: "backstop",
      GroupName: "default",
      Arn: "arn:aws:scheduler:us-east-1:111122223333:schedule/default/backstop",
      ScheduleExpression: "at(2026-12-01T00:00:00)",
      FlexibleTimeWindow: { Mode: "OFF" },
      State: "ENABLED",
      Target: TARGET,
    });
    expect(answer.CreationDate).toBeInstanceOf(Date);
    expect(scheduler.calls).toEqual([expect.objectContaining({ method: "GET", name: "backstop", groupName: "default", signed: true, status: 200 })]);
  });

  it("answers an unknown schedule with ResourceNotFoundException (404), for a get and an update", async () => {
    await expect(client.send(new GetScheduleCommand({ Name: "nope" }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new GetScheduleCommand({ Name: "backstop", GroupName: "other" }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new UpdateScheduleCommand({ Name: "nope", ScheduleExpression: "at(2026-12-02T00:00:00)", FlexibleTimeWindow: { Mode: "OFF" }, Target: TARGET }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
      $metadata: { httpStatusCode: 404 },
    });
  });

  it("replaces the whole schedule on update: a field left out takes its default", async () => {
    await client.send(new UpdateScheduleCommand({ Name: "backstop", ScheduleExpression: "at(2026-12-02T00:00:00)", FlexibleTimeWindow: { Mode: "OFF" }, Target: { Arn: TARGET.Arn, RoleArn: TARGET.RoleArn } }));
    expect(scheduler.schedule("backstop")).toEqual({
      Name: "backstop",
      GroupName: "default",
      ScheduleExpression: "at(2026-12-02T00:00:00)",
      ScheduleExpressionTimezone: "UTC",
      FlexibleTimeWindow: { Mode: "OFF" },
      State: "ENABLED",
      ActionAfterCompletion: "NONE",
      // Description and the target's Input are gone: the update did not carry them over.
      Target: { Arn: TARGET.Arn, RoleArn: TARGET.RoleArn, RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 } },
    });
  });

  it.each([
    ["no FlexibleTimeWindow", { FlexibleTimeWindow: undefined }, "flexibleTimeWindow"],
    ["a target without RoleArn", { Target: { Arn: TARGET.Arn } }, "target.roleArn"],
    ["no ScheduleExpression", { ScheduleExpression: undefined }, "scheduleExpression"],
  ])("refuses an update with %s (ValidationException), leaving the schedule as it was", async (_name, change, field) => {
    const request = { Name: "backstop", ScheduleExpression: "at(2026-12-02T00:00:00)", FlexibleTimeWindow: { Mode: "OFF" as const }, Target: TARGET, ...change };
    const error = await client.send(new UpdateScheduleCommand(request as ConstructorParameters<typeof UpdateScheduleCommand>[0])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationException);
    expect((error as Error).message).toContain(`'${field}'`);
    expect(scheduler.schedule("backstop")?.ScheduleExpression).toBe("at(2026-12-01T00:00:00)");
  });
});
