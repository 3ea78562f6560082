import { InvalidInputError } from "../../runspec/problems";
import type { OfflineRuntime } from "../../offline/offlineRuntime";

/**
 * Asserts that constructing a component named `name` throws an InvalidInputError naming
 * exactly `keys`, and that nothing whose name starts with `name` was registered.
 */
export async function expectRejectedWithNothingRegistered(
  runtime: OfflineRuntime,
  name: string,
  construct: () => unknown,
  keys: readonly string[],
): Promise<void> {
  let error: unknown;
  try {
    construct();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as InvalidInputError).problems.map((p) => p.key)).toEqual(keys);
  expect((error as Error).message).toContain(keys[0]);
  await runtime.settle();
  expect(runtime.resources.filter((r) => r.name.startsWith(name))).toEqual([]);
}
