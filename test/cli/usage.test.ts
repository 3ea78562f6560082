import { readFileSync } from "fs";
import { join, resolve } from "path";
import { memoryIo, runCli } from "./commands/operateHarness";

const ROOT = resolve(__dirname, "../..");

describe("yolo-train usage", () => {
  it("--version prints the package version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const io = memoryIo();
      expect(await runCli([flag], io)).toBe(0);
      expect(io.text()).toBe(`${version}\n`);
    }
  });

  it.each([
    ["no command", []],
    ["an unknown command", ["lanch"]],
    ["an unknown option of the program", ["--verbose"]],
    ["an unknown option of plan", ["plan", "--stak", "dev"]],
    ["an unknown option of status", ["status", "--wach"]],
    ["a missing option value of launch", ["launch", "--stack"]],
    ["a bad --interval of status", ["status", "--outputs-file", "x.json", "--interval", "soon"]],
    ["a bad --since of logs", ["logs", "--outputs-file", "x.json", "--since", "yesterday"]],
    ["a bad --drain-timeout of down", ["down", "--all", "--drain-timeout", "0"]],
    ["no stack for cost", ["cost"]],
    ["an edge pull without --dest", ["edge", "pull", "--model", "m"]],
    ["an unknown option of ota root sign", ["ota", "root", "sign", "--frobnicate"]],
  ])("exits 2 for %s", async (_what, args) => {
    const io = { ...memoryIo(), env: { ...process.env, PULUMI_STACK: undefined } };
    expect(await runCli(args, io)).toBe(2);
  });

  it("says a wrong option value as JSON under --json, with exit 2", async () => {
    const io = memoryIo();
    expect(await runCli(["status", "--outputs-file", "x.json", "--interval", "soon", "--json"], io)).toBe(2);
    expect(JSON.parse(io.text())).toEqual({ error: { message: "--interval must be a positive number of seconds, got soon", exitCode: 2 } });
    expect(io.err.join("")).toBe("yolo-train status: --interval must be a positive number of seconds, got soon\n");
  });

  it("--help exits 0", async () => {
    // Commander's help exits with process.exitCode, which another in-process command may have set.
    const saved = process.exitCode;
    process.exitCode = undefined;
    try {
      const io = memoryIo();
      expect(await runCli(["--help"], io)).toBe(0);
      expect(io.text()).toContain("Exit codes:");
    } finally {
      process.exitCode = saved;
    }
  });
});
