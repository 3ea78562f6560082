import { formatLogLine, describeError } from "../../../agent/log";
import { parseSpotNotice } from "../../../agent/spotNotice";
import { parseProcStat } from "../../../agent/trainerProcess";

describe("parseSpotNotice", () => {
  it("reads the instance-action document", () => {
    expect(parseSpotNotice('{"action": "terminate", "time": "2017-09-18T08:22:00Z"}')).toEqual({ action: "terminate", time: "2017-09-18T08:22:00Z" });
    expect(parseSpotNotice('{"action": "stop", "time": "2017-09-18T08:22:00Z"}').action).toBe("stop");
  });

  it("still treats an unreadable answer as a notice (the path exists only when one is pending)", () => {
    expect(parseSpotNotice("<html>")).toEqual({ action: "terminate", time: "" });
  });
});

describe("parseProcStat", () => {
  it("reads state and process group, even when the command name holds spaces and parentheses", () => {
    expect(parseProcStat("4242 (python (ddp) w) S 4200 4100 4100 0 -1 4194560 ...")).toEqual({ state: "S", pgrp: 4100 });
    expect(parseProcStat("77 (sh) Z 1 77 77 0")).toEqual({ state: "Z", pgrp: 77 });
  });

  it("returns null for something else", () => {
    expect(parseProcStat("garbage")).toBeNull();
  });
});

describe("formatLogLine", () => {
  const now = new Date("2026-05-05T05:05:05.000Z");

  it("writes one JSON object per event with time, level, source and event first", () => {
    const line = formatLogLine("warn", "spot-notice", { action: "terminate" }, now);
    expect(line).not.toContain("\n");
    expect(Object.keys(JSON.parse(line))).toEqual(["time", "level", "source", "event", "action"]);
    expect(JSON.parse(line)).toEqual({ time: "2026-05-05T05:05:05.000Z", level: "warn", source: "yolo-train-agent", event: "spot-notice", action: "terminate" });
  });

  it("does not let a field named like a standard one replace it", () => {
    expect(JSON.parse(formatLogLine("info", "e", { time: "later", event: "other" }, now))).toMatchObject({ time: "2026-05-05T05:05:05.000Z", event: "e" });
  });

  it("writes errors as name and message only", () => {
    expect(JSON.parse(formatLogLine("error", "x", { error: new TypeError("boom") }, now)).error).toEqual({ name: "TypeError", message: "boom" });
  });
});

describe("describeError", () => {
  it("names the error and the HTTP status of an SDK error", () => {
    expect(describeError(Object.assign(new Error("We encountered an internal error."), { name: "InternalError", $metadata: { httpStatusCode: 500 } }))).toBe(
      "InternalError: We encountered an internal error. (HTTP 500)",
    );
    expect(describeError("text")).toBe("text");
  });
});
