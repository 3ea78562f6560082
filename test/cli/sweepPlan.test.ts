import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { memoryIo, runCli } from "./commands/operateHarness";

/** A project folder holding Pulumi.yaml and the given stack files. */
function projectWith(stacks: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-train-sweep-"));
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: vision\nruntime: nodejs\n");
  for (const [stack, text] of Object.entries(stacks)) fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), text);
  return dir;
}

const BASE = `config:
  aws:region: us-east-1
  yolo-train:stage: debug
  yolo-train:data: coco128.yaml
  yolo-train:epochs: 27
`;

const SWEEP = `${BASE}  yolo-train:sweep:
    method: grid
    space:
      model: [yolov8n.pt, yolov8s.pt]
      imgsz: [320, 640]
    maxParallel: 3
    asha: { minEpochs: 3, reductionFactor: 3 }
    budgetUsd: 40
`;

const LEARNING_RATE_SWEEP = `${BASE}  yolo-train:hyperparameters:
    optimizer: SGD
  yolo-train:sweep:
    method: random
    trials: 6
    space:
      lr0: { min: 0.002, max: 0.05, log: true }
      imgsz: [320, 640]
    asha: { minEpochs: 1 }
`;

describe("yolo-train sweep plan", () => {
  const dir = projectWith({ sw: SWEEP, lr: LEARNING_RATE_SWEEP, plain: BASE, bad: `${BASE}  yolo-train:sweep:\n    method: grid\n    trials: 4\n    space:\n      imgsz: [320, 333]\n    maxParallel: 99\n` });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("lists every trial with its parameters, run id and cost, the most the sweep can cost and the vCPU quota it needs", async () => {
    const io = memoryIo({ cwd: dir });
    expect(await runCli(["sweep", "plan", "--stack", "sw"], io)).toBe(0);
    const text = io.text();
    expect(text).toMatch(/^Sweep: 4 trials \(grid\), maximize metrics\/mAP50-95\(B\), 3 at once, ASHA from epoch 3 \(η 3, to 27\)/);
    for (const id of ["t01", "t02", "t03", "t04"]) expect(text).toMatch(new RegExp(`^${id}\\s+yolov8[ns]\\.pt\\s+(320|640)\\s+yolov8[ns]-coco128-[0-9a-f]{10}\\s+g4dn`, "m"));
    expect(text).toMatch(/Most it can cost: \$\d+\.\d\d/);
    expect(text).toMatch(/Expected with ASHA: \$\d+\.\d\d/);
    expect(text).toMatch(/Quota: All G and VT Spot Instance Requests \(L-3819A6DF, spot\) must allow \d+ vCPUs: 3 × g4dn\.\w+/);
    expect(text).toContain("`pulumi up` deploys the sweep");
    expect(text).toContain("starts at most maxParallel at once, within the budget");
    // Rungs from epoch 3 with ultralytics' 3-epoch warm-up: the plan says where the first rung should go.
    expect(text).toContain("Warnings:\n  - early stopping (asha) ranks trials first at epoch 3, inside the learning-rate warm-up (3 epochs:");
    expect(text).toContain("asha.minEpochs 4 or more");
    expect(text).not.toContain("but the space varies");
  });

  it("warns that ASHA may stop the best trial when the space varies the learning rate, and says what to do instead", async () => {
    const io = memoryIo({ cwd: dir });
    expect(await runCli(["sweep", "plan", "--stack", "lr"], io)).toBe(0);
    const text = io.text();
    expect(text).toContain("  - early stopping (asha) ranks trials at epochs 1, 3, 9 of 27, but the space varies lr0:");
    expect(text).toContain("sweep with asha: off, or fix it in the base config and let ASHA sweep the rest");

    const json = memoryIo({ cwd: dir });
    expect(await runCli(["sweep", "plan", "--stack", "lr", "--json"], json)).toBe(0);
    const { warnings } = JSON.parse(json.text());
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/^early stopping \(asha\) ranks trials at epochs 1, 3, 9 of 27, but the space varies lr0/);
  });

  it("prints the same as JSON", async () => {
    const io = memoryIo({ cwd: dir });
    expect(await runCli(["sweep", "plan", "--stack", "sw", "--json"], io)).toBe(0);
    const plan = JSON.parse(io.text());
    expect(plan.trials.map((t: { id: string }) => t.id)).toEqual(["t01", "t02", "t03", "t04"]);
    expect(plan.trials[0].params).toEqual({ model: "yolov8n.pt", imgsz: 320 });
    expect(plan.quotas[0]).toMatchObject({ quotaCode: "L-3819A6DF", nodes: 3 });
    expect(plan.most.usd).toBeGreaterThan(0);
    expect(plan.warnings).toEqual([expect.stringMatching(/^early stopping \(asha\) ranks trials first at epoch 3, inside the learning-rate warm-up/)]);
  });

  it("exits 2 naming every problem of an invalid sweep", async () => {
    const io = memoryIo({ cwd: dir });
    expect(await runCli(["sweep", "plan", "--stack", "bad"], io)).toBe(2);
    const err = io.err.join("");
    expect(err).toMatch(/The sweep of stack bad has \d+ problem/);
    for (const key of ["sweep.trials", "sweep.space.imgsz[1]", "sweep.maxParallel"]) expect(err).toContain(key);
  });

  it("exits 2 when the stack declares no sweep, or there is no such stack", async () => {
    const io = memoryIo({ cwd: dir });
    expect(await runCli(["sweep", "plan", "--stack", "plain"], io)).toBe(2);
    expect(io.err.join("")).toContain("Pulumi.plain.yaml declares no sweep: add yolo-train:sweep");
    const missing = memoryIo({ cwd: dir });
    expect(await runCli(["sweep", "plan", "--stack", "nope"], missing)).toBe(2);
    expect(await runCli(["sweep", "plan"], memoryIo({ cwd: dir }))).toBe(2);
  });
});
