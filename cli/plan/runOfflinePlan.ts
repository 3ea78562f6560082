import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { InvalidInputError } from "../../runspec/problems";
import type { RecordedResource } from "../../offline/fakeAws";
import { OfflineRuntime, valueOf } from "../../offline/offlineRuntime";
import { readProjectFile, readStackConfigFile } from "./stackConfigFile";

export interface OfflinePlan {
  readonly project: string;
  readonly stack: string;
  readonly region: string;
  /** Every resource `pulumi up` would register, in registration order, the stack first. */
  readonly resources: readonly RecordedResource[];
  /** The stack outputs, resolved. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** The stack outputs with every secret output as "[secret]", as `pulumi stack output --json` shows them. */
  readonly publicOutputs: Readonly<Record<string, unknown>>;
  /** The stack config the program ran with (`namespace:key` → text; secure values are "[secret]"). */
  readonly config: Readonly<Record<string, string>>;
  /** Keys of `config` that hold a secure value. */
  readonly secretKeys: readonly string[];
}

/**
 * Whether the program stopped on refused input (an invalid config, every problem listed), as
 * opposed to failing: the message is all the user needs, without a stack trace.
 */
export function isInputRefusal(error: unknown): error is Error {
  return error instanceof InvalidInputError || pulumi.RunError.isInstance(error) || pulumi.InputPropertiesError.isInstance(error);
}

/**
 * Runs the stack program (`main` of Pulumi.yaml) for one stack under Pulumi's mock runtime,
 * against the fake AWS account: no credentials, no engine, no CLI. What it records is what
 * `pulumi up` would create for a new stack. Rejects with the program's own error when it throws
 * (an invalid config), once: nothing else is left to reject unhandled.
 */
export async function runOfflinePlan(projectDir: string, stack: string): Promise<OfflinePlan> {
  const projectFile = readProjectFile(projectDir);
  const { values, secretKeys } = readStackConfigFile(projectDir, stack);
  const runtime = await OfflineRuntime.start({ project: projectFile.name, stack, config: values, secretKeys });
  const program = path.resolve(projectDir, projectFile.main ?? "index.ts");

  // runInPulumiStack is how the engine runs a program: a root Stack resource, the program's
  // exports as its outputs. The program's error is kept out of the Stack: a Stack whose init
  // rejects leaves promises derived from its outputs rejecting unhandled, and Node prints the
  // error a second time, with its stack trace.
  const run: { failed: boolean; error?: unknown } = { failed: false };
  const exported =
    (await pulumi.runtime.runInPulumiStack(async () => {
      try {
        return require(program);
      } catch (error) {
        run.failed = true;
        run.error = error;
        return undefined;
      }
    })) ?? {};
  if (run.failed) throw run.error;
  const outputs: Record<string, unknown> = {};
  const publicOutputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(exported)) {
    outputs[key] = await valueOf(value as pulumi.Input<unknown>);
    publicOutputs[key] = await withSecretsMasked(value);
  }
  return {
    project: projectFile.name,
    stack,
    region: runtime.cloud.region,
    resources: runtime.resources,
    outputs,
    publicOutputs,
    config: values,
    secretKeys,
  };
}

/** An exported value resolved, each secret output in it replaced by "[secret]". */
async function withSecretsMasked(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    if (await pulumi.isSecret(value)) return "[secret]";
    return withSecretsMasked(await valueOf(value));
  }
  if (value instanceof Promise) return withSecretsMasked(await value);
  if (Array.isArray(value)) return Promise.all(value.map(withSecretsMasked));
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await withSecretsMasked(v)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}
