/**
 * Issue 10, item 7, on the box: a release whose manifest is signed but not in canonical form (a
 * key twice, whitespace, another key order or number spelling, a BOM, a trailing newline) is
 * refused as `invalid-manifest` before any file is downloaded; releases as publishers write them,
 * with or without `runtime`, install as before.
 */
import { promises as fs } from "fs";
import * as path from "path";
import { VerificationRefusedError } from "../../../ota/edge/errors";
import { EdgeWorld, snapshot } from "./fakes/edgeWorld";

let world: EdgeWorld;
beforeAll(async () => {
  world = await EdgeWorld.start();
});
afterAll(async () => {
  await world.close();
});

/** Replaces the manifest of `version` with `respell(canonical text)`, signed by the world's key, as someone holding the key could. */
async function resign(version: number, respell: (canonical: string) => Buffer): Promise<Buffer> {
  const canonical = (await world.getObject(world.layout.manifest(version))).toString("utf8");
  const bytes = respell(canonical);
  await world.putObject(world.layout.manifest(version), bytes);
  await world.putObject(world.layout.signature(version), await world.signer.sign(bytes));
  return bytes;
}

describe("pull refuses a signed manifest that is not in canonical form", () => {
  it.each<[string, (canonical: string) => Buffer]>([
    ["a key twice (a reader keeping the first would see another model size)", (c) => Buffer.from(`{"inputSize":320,${c.slice(1)}`)],
    ["a key twice (JSON.parse keeps the last)", (c) => Buffer.from(c.replace('"runId":', '"runId":"someone-else","runId":'))],
    ["indentation", (c) => Buffer.from(JSON.stringify(JSON.parse(c), null, 2))],
    ["keys in another order", (c) => Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(c) as object).reverse())))],
    ["an integer spelt 640.0", (c) => Buffer.from(c.replace('"inputSize":640', '"inputSize":640.0'))],
    ["an escaped letter", (c) => Buffer.from(c.replace('"modelName":"widgets"', '"modelName":"\\u0077idgets"'))],
    ["a trailing newline", (c) => Buffer.from(c + "\n")],
    ["a byte order mark", (c) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(c)])],
  ])("%s: refused as invalid-manifest, nothing downloaded, the box unchanged", async (_name, respell) => {
    const dest = await world.newDest();
    await world.publish();
    await world.pull(dest);
    const before = await snapshot(dest);
    const next = (await world.publish()).version;
    const bytes = await resign(next, respell);
    expect(bytes.equals(await world.getObject(world.layout.manifest(next)))).toBe(true);

    const error = await world.pull(dest).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VerificationRefusedError);
    expect((error as VerificationRefusedError).reason).toBe("invalid-manifest");
    expect((error as VerificationRefusedError).exitCode).toBe(3);
    expect((error as Error).message).toMatch(/\(manifest\): is not in canonical form: its bytes are not the canonical serialisation of what they parse to/);
    expect(world.proxy.to(world.layout.file(next, "model.onnx"))).toEqual([]);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("installs releases as publishers write them, with runtime and without it (published before it existed)", async () => {
    const dest = await world.newDest();
    const old = await world.publish({ runtime: null });
    expect((await world.getObject(world.layout.manifest(old.version))).toString("utf8")).not.toContain("runtime");
    expect(await world.pull(dest)).toMatchObject({ status: "installed", version: old.version });
    const current = await world.publish();
    const installed = await world.pull(dest);
    expect(installed).toMatchObject({ status: "installed", version: current.version });
    expect(installed.manifest.runtime).toBeDefined();
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(current.onnx);
  });
});
