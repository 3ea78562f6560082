import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { AutomationStackOutputs, FileStackOutputs, StackOutputsError, parseStackOutputs, stackOutputsSource } from "../../cli/stackOutputs";
import { STACK_OUTPUTS } from "./commands/operateHarness";

describe("stack outputs", () => {
  it("reads the outputs and the estimate's rates from `pulumi stack output --json`", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outputs-"));
    const file = join(dir, "outputs.json");
    writeFileSync(file, JSON.stringify(STACK_OUTPUTS));
    const outputs = await new FileStackOutputs(file).read();
    expect(outputs).toMatchObject({ runId: "exp-1", artifactPrefix: "runs/exp-1/", datasetBucketName: "yolo-datasets-test" });
    expect(outputs.estimate?.chosenInstanceType).toEqual({ instanceType: "g4dn.xlarge", usdPerHour: 0.2 });
    expect(outputs.estimate?.instanceTypes[0]).toEqual({ instanceType: "g4dn.xlarge", onDemandUsdPerHour: 0.526, spotUsdPerHour: 0.2 });
  });

  it("names every missing output in one message", () => {
    expect(() => parseStackOutputs({ runId: "x" }, "o.json")).toThrow(
      "o.json: missing stack outputs region, artifactBucketName, artifactPrefix, autoScalingGroupName, logGroupName; was the stack deployed with `pulumi up`?",
    );
  });

  it("rejects an unreadable or non-JSON file as a StackOutputsError", async () => {
    await expect(new FileStackOutputs("/nonexistent/outputs.json").read()).rejects.toThrow(StackOutputsError);
    const dir = mkdtempSync(join(tmpdir(), "outputs-"));
    writeFileSync(join(dir, "bad.json"), "Current stack outputs (3):");
    await expect(new FileStackOutputs(join(dir, "bad.json")).read()).rejects.toThrow(/bad.json is not JSON/);
  });

  it("prefers --outputs-file, then --stack, then PULUMI_STACK", () => {
    expect(stackOutputsSource({ outputsFile: "o.json", stack: "dev" }, "/p", {})).toBeInstanceOf(FileStackOutputs);
    const byFlag = stackOutputsSource({ stack: "dev" }, "/p", { PULUMI_STACK: "prod" });
    expect(byFlag).toBeInstanceOf(AutomationStackOutputs);
    expect((byFlag as AutomationStackOutputs).stackName).toBe("dev");
    expect((stackOutputsSource({}, "/p", { PULUMI_STACK: "prod" }) as AutomationStackOutputs).stackName).toBe("prod");
    expect(() => stackOutputsSource({}, "/p", {})).toThrow(StackOutputsError);
  });
});
