import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import type { RecordedResource } from "../../offline/fakeAws";
import { OfflineRuntime, valueOf } from "../../offline/offlineRuntime";
import { readStackConfigFile } from "./stackConfigFile";

export interface OfflinePlan {
  readonly project: string;
  readonly stack: string;
  readonly region: string;
  /** Every resource `pulumi up` would register, in registration order, the stack first. */
  readonly resources: readonly RecordedResource[];
  /** The stack outputs, resolved. */
  readonly outputs: Readonly<Record<string, unknown>>;
}

/**
 * Runs the stack program (`main` of Pulumi.yaml) for one stack under Pulumi's mock runtime,
 * against the fake AWS account: no credentials, no engine, no CLI. What it records is what
 * `pulumi up` would create for a new stack.
 */
export async function runOfflinePlan(projectDir: string, stack: string): Promise<OfflinePlan> {
  const projectFile = parseYaml(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as {
    name: string;
    main?: string;
  };
  const { values, secretKeys } = readStackConfigFile(projectDir, stack);
  const runtime = await OfflineRuntime.start({ project: projectFile.name, stack, config: values, secretKeys });
  const program = path.resolve(projectDir, projectFile.main ?? "index.ts");

  // runInPulumiStack is how the engine runs a program: a root Stack resource, the program's
  // exports as its outputs.
  const exported = (await pulumi.runtime.runInPulumiStack(async () => require(program))) ?? {};
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(exported)) {
    outputs[key] = await valueOf(value as pulumi.Input<unknown>);
  }
  return { project: projectFile.name, stack, region: runtime.cloud.region, resources: runtime.resources, outputs };
}
