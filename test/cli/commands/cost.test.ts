import { OperateWorld, memoryIo, recordAt, runCli } from "./operateHarness";

let world: OperateWorld;
beforeAll(async () => {
  world = await OperateWorld.start();
});
afterAll(async () => {
  await world.close();
});

describe("yolo-train cost", () => {
  it("compares the spot cost paid with the same billed time on demand, as JSON", async () => {
    // Completed after 10 epochs: billed 660 s (boot 60 s + 10 × 60 s), trained 600 s, at $0.20/h.
    await world.putRecord(recordAt({ epoch: 10, end: "completed" }));
    const io = memoryIo();
    expect(await runCli(["cost", "--outputs-file", world.outputsFile, "--json"], io)).toBe(0);
    const report = JSON.parse(io.text());
    expect(report).toMatchObject({
      phase: "completed",
      billedSeconds: 660,
      trainingSeconds: 600,
      trainingShare: 0.9091,
      instanceType: "g4dn.xlarge",
      costUsd: 0.0367,
      onDemandUsdPerHour: 0.526,
      epoch: 10,
    });
    expect(report.paidUsdPerHour).toBeCloseTo(0.2, 2);
    expect(report.onDemandCostUsd).toBeCloseTo((660 / 3600) * 0.526, 4);
    expect(report.savingsUsd).toBeCloseTo((660 / 3600) * 0.526 - 0.0367, 4);
    expect(report.savingsPercent).toBe(61.9);
    expect(report.costPerEpochUsd).toBe(0.0037);
  });

  it("renders billed vs training time, paid vs on-demand, savings and cost per epoch", async () => {
    await world.putRecord(recordAt({ epoch: 10, end: "completed" }));
    const io = memoryIo();
    expect(await runCli(["cost", "--outputs-file", world.outputsFile], io)).toBe(0);
    const text = io.text();
    expect(text).toContain("billed     11m 00s (660 s)");
    expect(text).toContain("training   10m 00s (600 s), 91% of billed time");
    expect(text).toContain("paid       $0.0367 at $0.2002/h on g4dn.xlarge");
    expect(text).toContain("on-demand  $0.0964 at $0.5260/h for the same billed time");
    expect(text).toContain("savings    $0.0597 (61.9%)");
    expect(text).toContain("per epoch  $0.0037 over 10 epochs");
  });

  it("exits 4 when there is no run record", async () => {
    await world.deleteRecord();
    const io = memoryIo();
    expect(await runCli(["cost", "--outputs-file", world.outputsFile, "--json"], io)).toBe(4);
    expect(JSON.parse(io.text())).toMatchObject({ phase: null, exitCode: 4 });
  });
});
