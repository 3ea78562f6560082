import { spawn } from "child_process";
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { PulumiCliNotFoundError, findPulumiCli, isPulumiCliMissing, withPulumiCli } from "../../../cli/stackAutomation";
import { tsNodeArgs } from "../../support/tsBuild";
import { memoryIo, runCli } from "./operateHarness";

const ROOT = resolve(__dirname, "../../..");
const NOT_FOUND = "Pulumi CLI not found: install it (https://www.pulumi.com/docs/install/), or pass --outputs-file <file>";

/** A PATH that holds no `pulumi`: one empty folder. */
const emptyPath = () => mkdtempSync(join(tmpdir(), "no-pulumi-"));

/** The process environment with PATH replaced: what a machine without the Pulumi CLI has. */
const withoutPulumi = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: emptyPath(), PULUMI_STACK: undefined });

describe("without the Pulumi CLI", () => {
  it.each([["status"], ["cost"], ["logs"], ["down"]])("`%s --stack dev` says so and exits 2, not spawn pulumi ENOENT", async (command) => {
    const io = { ...memoryIo(), env: withoutPulumi() };
    expect(await runCli([command, "--stack", "dev"], io)).toBe(2);
    const err = io.err.join("");
    expect(err).toContain(`yolo-train ${command}: ${NOT_FOUND}`);
    expect(err).not.toContain("ENOENT");
    expect(err).not.toContain("Error:");
  });

  it("says so as JSON under --json", async () => {
    const io = { ...memoryIo(), env: withoutPulumi() };
    expect(await runCli(["status", "--stack", "dev", "--json"], io)).toBe(2);
    expect(JSON.parse(io.text())).toEqual({ error: { message: expect.stringContaining(NOT_FOUND), exitCode: 2 } });
  });

  it("`down --all` refuses before it changes anything (no scale to zero, no bucket emptied)", async () => {
    const outputs = join(emptyPath(), "outputs.json");
    writeFileSync(outputs, JSON.stringify({ runId: "r", region: "us-east-1", artifactBucketName: "a-b-c", artifactPrefix: "runs/r/", autoScalingGroupName: "g", logGroupName: "/l" }));
    // Any AWS call would fail with exit 1; the refusal comes first, with exit 2.
    const io = { ...memoryIo(), env: withoutPulumi() };
    expect(await runCli(["down", "--stack", "dev", "--outputs-file", outputs, "--all", "--force", "--yes"], io)).toBe(2);
    const err = io.err.join("");
    expect(err).toContain("yolo-train down: Pulumi CLI not found: install it (https://www.pulumi.com/docs/install/), or destroy the stack where it is installed");
    expect(io.text()).not.toContain("MinSize 0");
  });

  it("`launch` validates the config, then says so and exits 2", async () => {
    const project = mkdtempSync(join(tmpdir(), "yolo-train-project-"));
    copyFileSync(join(ROOT, "Pulumi.yaml"), join(project, "Pulumi.yaml"));
    copyFileSync(join(ROOT, "Pulumi.dev.yaml"), join(project, "Pulumi.dev.yaml"));
    const io = { ...memoryIo({ cwd: project }), env: withoutPulumi() };
    expect(await runCli(["launch", "--stack", "dev"], io)).toBe(2);
    const err = io.err.join("");
    expect(err).toContain("yolo-train launch: Pulumi CLI not found: install it (https://www.pulumi.com/docs/install/), then run launch again");
    expect(err).not.toContain("ENOENT");
  });

  it("turns the Automation API's failed spawn into the same error", async () => {
    // PATH as given to the check holds a `pulumi`; the process's own PATH, which the Automation
    // API spawns with, does not: the spawn fails as on a machine without the CLI.
    const fakeBin = emptyPath();
    writeFileSync(join(fakeBin, "pulumi"), "#!/bin/sh\nexit 0\n");
    chmodSync(join(fakeBin, "pulumi"), 0o755);
    expect(findPulumiCli({ PATH: fakeBin })).toBe(join(fakeBin, "pulumi"));
    const savedPath = process.env.PATH;
    process.env.PATH = emptyPath();
    let spawnError: unknown;
    try {
      const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
      await LocalWorkspace.create({}).catch((e: unknown) => {
        spawnError = e;
      });
      await expect(withPulumiCli({ PATH: fakeBin }, "or pass --outputs-file <file>", () => LocalWorkspace.create({}))).rejects.toThrow(PulumiCliNotFoundError);
    } finally {
      process.env.PATH = savedPath;
    }
    expect(String(spawnError)).toContain("ENOENT");
    expect(isPulumiCliMissing(spawnError)).toBe(true);
    expect(isPulumiCliMissing(new Error("no stack named 'dev' found"))).toBe(false);
  });

  it("in a process whose PATH has no pulumi, `yolo-train status --stack dev` exits 2 with the message", async () => {
    const outcome = await new Promise<{ status: number | null; stderr: string }>((done, fail) => {
      // One plain Node process running the CLI's prebuilt JavaScript (test/support/tsBuild.ts), as tsx would.
      const child = spawn(process.execPath, [...tsNodeArgs(join(ROOT, "cli", "yoloTrain.ts")), "status", "--stack", "dev"], {
        cwd: ROOT,
        env: { PATH: emptyPath(), HOME: tmpdir() },
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("error", fail);
      child.on("close", (status) => done({ status, stderr }));
    });
    expect(outcome.stderr).toContain(`yolo-train status: ${NOT_FOUND}`);
    expect(outcome.stderr).not.toContain("ENOENT");
    expect(outcome.status).toBe(2);
  }, 60_000);
});
