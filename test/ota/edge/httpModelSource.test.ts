import { promises as fs } from "fs";
import * as path from "path";
import { EdgeUsageError, SourceError, VerificationRefusedError } from "../../../ota/edge/errors";
import { HttpModelSource } from "../../../ota/edge/httpModelSource";
import { pullModel } from "../../../ota/edge/puller";
import { channelSignatureKey } from "../../../ota/channelMembership";
import { BUCKET, EdgeWorld, MODEL, MODELS_PREFIX, snapshot } from "./fakes/edgeWorld";
import { ReleaseHttpServer } from "./fakes/releaseHttpServer";

let world: EdgeWorld;
let server: ReleaseHttpServer;
beforeAll(async () => {
  world = await EdgeWorld.start();
  server = await ReleaseHttpServer.start();
});
afterAll(async () => {
  await server.close();
  await world.close();
});
beforeEach(() => {
  server.requiredQuery = undefined;
  server.misbehaviours.clear();
});

const SIGNED = "Policy=eyJTdGF0ZW1lbnQiOltdfQ__&Signature=abc~def&Key-Pair-Id=K2JCJMDEHXQW5F";
const modelPath = (key: string): string => key; // keys are served at the same paths as in the bucket

function pullOverHttp(dest: string, options: { query?: string; idleTimeoutMs?: number } = {}) {
  const source = new HttpModelSource({ baseUrl: `${server.origin}${MODELS_PREFIX}${MODEL}`, ...options });
  return pullModel({ source, modelName: MODEL, publicKeyPem: world.publicKeyPem, dest });
}

async function boxWithOneRelease() {
  const first = await world.publish();
  await server.mirror(world.fake, BUCKET);
  const dest = await world.newDest();
  await pullOverHttp(dest);
  return { dest, first, before: await snapshot(dest) };
}

describe("pullModel over HTTPS (HttpModelSource)", () => {
  it("installs through plain GETs that each carry the signed-URL query string", async () => {
    const release = await world.publish();
    await server.mirror(world.fake, BUCKET);
    server.requiredQuery = SIGNED;
    const dest = await world.newDest();
    const seen = server.requests.length;
    const result = await pullOverHttp(dest, { query: `?${SIGNED}` });
    expect(result).toMatchObject({ status: "installed", version: release.version });
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(release.onnx);
    const requests = server.requests.slice(seen);
    expect(requests.map((r) => r.path)).toEqual([
      modelPath(world.layout.channel("stable")),
      modelPath(world.layout.manifest(release.version)),
      modelPath(world.layout.signature(release.version)),
      modelPath(channelSignatureKey(world.layout, "stable", release.version)),
      modelPath(world.layout.file(release.version, "model.onnx")),
      modelPath(world.layout.file(release.version, "model.pt")),
    ]);
    expect(requests.every((r) => r.method === "GET" && r.query === SIGNED && r.status === 206)).toBe(true);
  });

  it("reports a refused signed URL (403) as a source problem that names the query string", async () => {
    await world.publish();
    await server.mirror(world.fake, BUCKET);
    server.requiredQuery = SIGNED;
    const error = await pullOverHttp(await world.newDest()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toMatch(/HTTP 403.*signed-URL query \(--url-query\) is missing, expired or does not cover it/);
  });

  it("closes the connection one byte past the declared length when the server ignores the range and never stops", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish();
    await server.mirror(world.fake, BUCKET);
    const key = world.layout.file(next.version, "model.onnx");
    server.misbehaviours.set(key, { kind: "endless" });

    const error = await pullOverHttp(dest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationRefusedError);
    expect((error as VerificationRefusedError).reason).toBe("oversized");
    const [read] = server.to(key);
    expect(read?.range).toBe(`bytes=0-${next.onnx.length}`);
    await waitFor(() => read?.closedEarly === true);
    // What the server got into the socket before the client hung up: socket buffers, not the endless stream.
    expect(read!.bytesSent).toBeLessThan(next.onnx.length + 16 * 1024 * 1024);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("reads exactly length + 1 bytes of an oversized file from a server that honours ranges", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish();
    const key = world.layout.file(next.version, "model.onnx");
    await world.putObject(key, Buffer.concat([next.onnx, Buffer.alloc(1024 * 1024, 7)]));
    await server.mirror(world.fake, BUCKET);
    const error = await pullOverHttp(dest).catch((e: unknown) => e);
    expect((error as VerificationRefusedError).reason).toBe("oversized");
    expect(server.to(key).map((r) => r.bytesSent)).toEqual([next.onnx.length + 1]);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("refuses a channel pointer that never ends, after 64 KiB", async () => {
    await world.publish();
    await server.mirror(world.fake, BUCKET);
    server.misbehaviours.set(world.layout.channel("stable"), { kind: "endless" });
    const error = await pullOverHttp(await world.newDest()).catch((e: unknown) => e);
    expect((error as VerificationRefusedError).reason).toBe("too-large");
  });

  it("gives up on a server that stops sending, and leaves the box as it was", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish();
    await server.mirror(world.fake, BUCKET);
    server.misbehaviours.set(world.layout.file(next.version, "model.onnx"), { kind: "stall", bytes: 1000 });
    const error = await pullOverHttp(dest, { idleTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toMatch(/failed after 1000 bytes: no data for 0\.3 s \(idle timeout\)/);
    expect(await snapshot(dest)).toEqual(before);
  });

  it.each([
    ["plain http to another host", "http://models.example.com/models/widgets/", /must use https:/],
    ["a query in the base URL", "https://models.example.com/models/widgets/?x=1", /must not carry a query/],
    ["no URL at all", "models/widgets", /is not a URL/],
  ])("refuses %s as the base URL", (_name, baseUrl, message) => {
    expect(() => new HttpModelSource({ baseUrl })).toThrow(EdgeUsageError);
    expect(() => new HttpModelSource({ baseUrl })).toThrow(message);
  });

  it("still takes the idle timeout under its former name, timeoutMs", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish();
    await server.mirror(world.fake, BUCKET);
    server.misbehaviours.set(world.layout.file(next.version, "model.onnx"), { kind: "stall", bytes: 10 });
    const source = new HttpModelSource({ baseUrl: `${server.origin}${MODELS_PREFIX}${MODEL}`, timeoutMs: 300 });
    const error = await pullModel({ source, modelName: MODEL, publicKeyPem: world.publicKeyPem, dest }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/failed after 10 bytes: no data for 0\.3 s \(idle timeout\)/);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("adds the missing trailing slash and appends the query to every object URL", () => {
    const source = new HttpModelSource({ baseUrl: "https://models.example.com/models/widgets", query: "?a=1&b=2" });
    expect(source.urlOf("versions/0000000007/model.onnx").href).toBe("https://models.example.com/models/widgets/versions/0000000007/model.onnx?a=1&b=2");
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
