import { parseSince } from "../../../cli/commands/logs";
import { CloudWatchLogsFake } from "./cloudWatchLogsFake";
import { LOG_GROUP, NOW, OperateWorld, memoryIo, runCli } from "./operateHarness";

let world: OperateWorld;
let logs: CloudWatchLogsFake;
beforeAll(async () => {
  world = await OperateWorld.start();
  logs = await CloudWatchLogsFake.start(2);
  world.setEnv({ AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.endpoint });
});
afterAll(async () => {
  await logs.close();
  await world.close();
});

const at = (minutesBeforeNow: number): number => NOW - minutesBeforeNow * 60_000;

describe("yolo-train logs", () => {
  it("prints the run's log group from --since ago, following nextToken across pages, with signed requests", async () => {
    logs.append(LOG_GROUP, [
      { logStreamName: "i-1/agent", timestamp: at(120), message: "too old" },
      { logStreamName: "i-1/agent", timestamp: at(50), message: "agent started" },
      { logStreamName: "i-1/trainer", timestamp: at(40), message: "epoch 1/10\n" },
      { logStreamName: "i-1/trainer", timestamp: at(30), message: "epoch 2/10" },
    ]);
    const io = memoryIo();
    expect(await runCli(["logs", "--outputs-file", world.outputsFile], io)).toBe(0);
    expect(io.text().trim().split("\n")).toEqual([
      `${new Date(at(50)).toISOString()} i-1/agent agent started`,
      `${new Date(at(40)).toISOString()} i-1/trainer epoch 1/10`,
      `${new Date(at(30)).toISOString()} i-1/trainer epoch 2/10`,
    ]);
    const calls = logs.calls.slice(-2);
    expect(calls.map((c) => c.target)).toEqual(["Logs_20140328.FilterLogEvents", "Logs_20140328.FilterLogEvents"]);
    expect(calls[0]!.body).toMatchObject({ logGroupName: LOG_GROUP, startTime: at(60) });
    expect(calls[1]!.body.nextToken).toBe("page-2");
    expect(calls.every((c) => c.signed)).toBe(true);
  });

  it("--follow polls from the newest timestamp seen and prints each event once, until stopped", async () => {
    const group = "/follow";
    const outputsFile = `${world.dir}/follow-outputs.json`;
    const fs = await import("fs");
    fs.writeFileSync(outputsFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(world.outputsFile, "utf8")), logGroupName: group }));
    logs.append(group, [
      { logStreamName: "s", timestamp: at(5), message: "a" },
      { logStreamName: "s", timestamp: at(4), message: "b" },
    ]);
    const stop = new AbortController();
    const io = memoryIo({
      signal: stop.signal,
      onSleep: (n) => {
        // Same millisecond as "b" (must not repeat b) and later.
        if (n === 1) logs.append(group, [{ logStreamName: "s", timestamp: at(4), message: "b2" }, { logStreamName: "s", timestamp: at(3), message: "c" }]);
        if (n === 2) stop.abort();
      },
    });
    const before = logs.calls.length;
    expect(await runCli(["logs", "--outputs-file", outputsFile, "--follow", "--interval", "2", "--json"], io)).toBe(0);
    const printed = io.text().trim().split("\n").map((line) => JSON.parse(line).message);
    expect(printed).toEqual(["a", "b", "b2", "c"]);
    expect(io.sleeps).toEqual([2000, 2000]);
    const polls = logs.calls.slice(before).filter((c) => c.body.nextToken === undefined);
    // Stopped during the second sleep: no third poll.
    expect(polls.map((c) => c.body.startTime)).toEqual([at(60), at(4)]);
  });

  it("exits 1 with the service's message when the log group does not exist", async () => {
    const fs = await import("fs");
    const outputsFile = `${world.dir}/missing-group.json`;
    fs.writeFileSync(outputsFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(world.outputsFile, "utf8")), logGroupName: "/nope" }));
    const io = memoryIo();
    expect(await runCli(["logs", "--outputs-file", outputsFile], io)).toBe(1);
    expect(io.err.join("")).toContain("ResourceNotFoundException: The specified log group does not exist.");
  });

  it.each([
    ["30s", 30_000],
    ["15m", 900_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1.5h", 5_400_000],
    ["2 hours", null],
    ["-1h", null],
  ])("reads --since %s as %p ms", (text, ms) => {
    expect(parseSince(text)).toBe(ms);
  });
});
