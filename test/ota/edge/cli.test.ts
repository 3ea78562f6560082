import type { ChildProcess } from "child_process";
import { promises as fs } from "fs";
import * as path from "path";
import { readState } from "../../../ota/edge/stateStore";
import { BUCKET, EdgeWorld, MODEL, RUNTIME, currentLinkTarget, snapshot } from "./fakes/edgeWorld";
import { ReleaseHttpServer } from "./fakes/releaseHttpServer";
import { runYoloTrain, type CliOutcome } from "./fakes/cliProcess";

let world: EdgeWorld;
let server: ReleaseHttpServer;
let keyFile: string;
beforeAll(async () => {
  world = await EdgeWorld.start();
  server = await ReleaseHttpServer.start();
  keyFile = path.join(world.root, "ota-public-key.pem");
  await fs.writeFile(keyFile, world.publicKeyPem);
});
afterAll(async () => {
  await server.close();
  await world.close();
});

function yoloTrain(args: string[], onSpawn?: (child: ChildProcess) => void): Promise<CliOutcome> {
  return runYoloTrain(args, { home: world.root, s3Endpoint: world.proxy.endpoint, ...(onSpawn ? { onSpawn } : {}) });
}

const pullArgs = (dest: string, ...more: string[]): string[] => ["edge", "pull", "--model", MODEL, "--public-key", keyFile, "--dest", dest, "--bucket", BUCKET, ...more];

describe("yolo-train edge (a subprocess)", () => {
  it("pull installs (exit 0), says so, and a second pull is up to date (exit 0)", async () => {
    const release = await world.publish();
    const dest = await world.newDest();
    const first = await yoloTrain(pullArgs(dest));
    expect(first.stderr).toContain(`yolo-train edge pull: channel stable of ${MODEL} points at version ${release.version}`);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(`installed ${MODEL} version ${release.version} from channel stable`);
    expect(first.stdout).toContain(path.join(dest, "current", "model.onnx"));
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(release.onnx);

    const second = await yoloTrain(pullArgs(dest, "--json"));
    expect(second.status).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ status: "up-to-date", version: release.version, currentVersion: release.version, modelName: MODEL });
  });

  it("exits 3 on a tampered release, prints what was refused and why, and installs nothing", async () => {
    const dest = await world.newDest();
    await world.publish();
    await yoloTrain(pullArgs(dest));
    const before = await snapshot(dest);
    const next = await world.publish();
    await world.putObject(world.layout.file(next.version, "model.onnx"), Buffer.alloc(next.onnx.length, 1));

    const outcome = await yoloTrain(pullArgs(dest, "--json"));
    expect(outcome.status).toBe(3);
    expect(outcome.stderr).toMatch(/yolo-train edge pull: REFUSED: Refused version \d+: .*model\.onnx has sha256 [0-9a-f]{64}, not the/);
    expect(JSON.parse(outcome.stdout)).toMatchObject({ error: { kind: "refused", reason: "hash-mismatch", exitCode: 3 } });
    expect(await snapshot(dest)).toEqual(before);
  });

  it("exits 3 on a replayed older release", async () => {
    const dest = await world.newDest();
    const first = await world.publish();
    await world.publish();
    await yoloTrain(pullArgs(dest));
    await world.setPointer("stable", first.version);
    const outcome = await yoloTrain(pullArgs(dest));
    expect(outcome.status).toBe(3);
    expect(outcome.stderr).toMatch(/an older release is never installed again/);
    await world.publish();
  });

  it("exits 6 when the release needs a higher opset than the box's --onnxruntime runs, downloading nothing; 2 for a bad --max-opset", async () => {
    const dest = await world.newDest();
    await world.publish({ runtime: { ...RUNTIME, opset: 16 } });
    expect((await yoloTrain(pullArgs(dest, "--onnxruntime", "1.11.1"))).status).toBe(0);
    const before = await snapshot(dest);
    const next = await world.publish({ runtime: { ...RUNTIME, opset: 17 } });

    const outcome = await yoloTrain(pullArgs(dest, "--onnxruntime", "1.11.1", "--json"));
    expect(outcome.status).toBe(6);
    expect(outcome.stderr).toMatch(/yolo-train edge pull: INCOMPATIBLE: Refused version \d+ of widgets: it needs ONNX opset 17 .* this box runs at most opset 16 .*Upgrade ONNX Runtime on this box to 1\.12 or later/);
    expect(JSON.parse(outcome.stdout)).toEqual({ error: { kind: "incompatible", message: expect.stringContaining("Nothing was downloaded"), exitCode: 6 } });
    expect(world.proxy.to(world.layout.file(next.version, "model.onnx"))).toEqual([]);
    expect(await snapshot(dest)).toEqual(before);

    expect((await yoloTrain(pullArgs(dest, "--max-opset", "seventeen"))).status).toBe(2);
    const upgraded = await yoloTrain(pullArgs(dest, "--onnxruntime", "1.12.0", "--max-opset", "17"));
    expect(upgraded.status).toBe(0);
    expect(upgraded.stdout).toContain(`installed ${MODEL} version ${next.version}`);
  });

  it("exits 4 when the channel points at a missing version, changing nothing", async () => {
    const dest = await world.newDest();
    await world.publish();
    await yoloTrain(pullArgs(dest));
    const before = await snapshot(dest);
    await world.setPointer("stable", 99_999);
    const outcome = await yoloTrain(pullArgs(dest));
    expect(outcome.status).toBe(4);
    expect(outcome.stderr).toMatch(/source unavailable: Channel "stable" points at version 99999, but its manifest is missing/);
    expect(await snapshot(dest)).toEqual(before);
    await world.publish();
  });

  it("exits 4 when the source cannot be reached", async () => {
    const outcome = await yoloTrain(["edge", "pull", "--model", MODEL, "--public-key", keyFile, "--dest", await world.newDest(), "--base-url", "http://127.0.0.1:9/models/widgets/"]);
    expect(outcome.status).toBe(4);
    expect(outcome.stderr).toMatch(/could not be read: connect ECONNREFUSED/);
  });

  it.each([
    ["a missing key file", (dest: string) => ["edge", "pull", "--model", MODEL, "--public-key", "/nonexistent/key.pem", "--dest", dest, "--bucket", BUCKET], /Cannot read the pinned key --public-key/],
    ["no source", (dest: string) => ["edge", "pull", "--model", MODEL, "--public-key", keyFile, "--dest", dest], /--bucket NAME \(S3\) or --base-url URL/],
    ["both sources", (dest: string) => [...pullArgs(dest), "--base-url", "https://example.com/"], /cannot be used with option/],
    ["a missing --model", (dest: string) => ["edge", "pull", "--public-key", keyFile, "--dest", dest, "--bucket", BUCKET], /required option '--model <name>' not specified/],
    ["an unknown option", (dest: string) => [...pullArgs(dest), "--frobnicate"], /unknown option '--frobnicate'/],
    ["an invalid model name", (dest: string) => ["edge", "pull", "--model", "../etc", "--public-key", keyFile, "--dest", dest, "--bucket", BUCKET], /Invalid S3 location/],
  ])("exits 2 on %s", async (_name, args, message) => {
    const outcome = await yoloTrain(args(await world.newDest()));
    expect(outcome.stderr).toMatch(message);
    expect(outcome.status).toBe(2);
  });

  it("exits 5 when the destination cannot be written", async () => {
    const file = path.join(world.root, "a-file");
    await fs.writeFile(file, "not a folder");
    const outcome = await yoloTrain(pullArgs(path.join(file, "widgets")));
    expect(outcome.status).toBe(5);
    expect(outcome.stderr).toMatch(/local I\/O error: Cannot create .*ENOTDIR/);
  });

  it("rollback goes back one version and status shows it (exit 0); a second rollback exits 2", async () => {
    const dest = await world.newDest();
    const first = await world.publish();
    await yoloTrain(pullArgs(dest));
    const second = await world.publish();
    await yoloTrain(pullArgs(dest));

    const rolled = await yoloTrain(["edge", "rollback", "--dest", dest]);
    expect(rolled.status).toBe(0);
    expect(rolled.stdout).toContain(`rolled back ${MODEL} from version ${second.version} to version ${first.version}; pulls install only versions above ${second.version}`);
    expect(await currentLinkTarget(dest)).toBe(`versions/${String(first.version).padStart(10, "0")}`);

    const shown = await yoloTrain(["edge", "status", "--dest", dest, "--json"]);
    expect(shown.status).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ modelName: MODEL, currentVersion: first.version, highestVersion: second.version, rolledBackFrom: second.version, expired: false });
    const text = await yoloTrain(["edge", "status", "--dest", dest]);
    expect(text.stdout).toMatch(new RegExp(`current\\s+version ${first.version} \\(since .*\\), rolled back from version ${second.version}`));
    expect(text.stdout).toContain("\nruntime   ONNX opset 17, input 1×3×640×640, output 1×84×8400, NMS not in the graph (run it on the output); verified with onnxruntime 1.20.1\n");

    const again = await yoloTrain(["edge", "rollback", "--dest", dest]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/already rolled back/);
  });

  it("a pull killed mid-download leaves the previous model current, and the next pull installs", async () => {
    const dest = await world.newDest();
    const first = await world.publish();
    await yoloTrain(pullArgs(dest));
    const next = await world.publish();
    await server.mirror(world.fake, BUCKET);
    const key = world.layout.file(next.version, "model.onnx");
    const httpArgs = ["edge", "pull", "--model", MODEL, "--public-key", keyFile, "--dest", dest, "--base-url", `${server.origin}models/${MODEL}/`];

    let child: ChildProcess | undefined;
    server.misbehaviours.set(key, { kind: "stall", bytes: 4096, onStalled: () => child?.kill("SIGKILL") });
    const killed = await yoloTrain(httpArgs, (c) => (child = c));
    expect(killed.status).toBeNull();
    expect(server.to(key)).toHaveLength(1);
    // Killed while writing into .staging: current is untouched, the partial file never became a version.
    expect(await currentLinkTarget(dest)).toBe(`versions/${String(first.version).padStart(10, "0")}`);
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(first.onnx);
    expect(await fs.readdir(path.join(dest, "versions"))).toEqual([String(first.version).padStart(10, "0")]);
    expect(await readState(dest)).toMatchObject({ currentVersion: first.version });
    expect(await fs.readdir(path.join(dest, ".staging"))).toEqual([String(next.version).padStart(10, "0")]);

    server.misbehaviours.clear();
    const later = await yoloTrain(httpArgs);
    expect(later.stderr).not.toMatch(/busy/);
    expect(later.status).toBe(0);
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(next.onnx);
    expect((await fs.readdir(dest)).sort()).toEqual(["current", "state.json", "versions"]);
  });

  it.each(["edge pull", "edge rollback", "edge status", "edge", "plan"])("prints help for `yolo-train %s --help` and exits 0", async (command) => {
    const outcome = await yoloTrain([...command.split(" ").filter(Boolean), "--help"]);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toMatch(/^Usage: yolo-train /);
    if (command.startsWith("edge")) expect(outcome.stdout).toContain("Exit codes:");
  });

  it("plans the dev stack as `npm run plan` does", async () => {
    const outcome = await yoloTrain(["plan", "--json"]);
    expect(outcome.status).toBe(0);
    expect(JSON.parse(outcome.stdout).resources.map((r: { type: string }) => r.type)).toContain("aws:autoscaling/group:Group");
  }, 120_000);
});
