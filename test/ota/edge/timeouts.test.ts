/**
 * Issue 10 (1, 2): a source that goes quiet, never answers, or trickles must not hold a pull (and
 * its lock) for ever. Through the real AWS SDK client an S3ModelSource builds for itself, and
 * through real TLS to a local HTTPS server; each pull must end with a SourceError (exit 4), the
 * box exactly as it was (no staging, no lock, same current and state.json), and the next pull
 * must install.
 */
import { globalAgent } from "https";
import { EdgeUsageError, SourceError } from "../../../ota/edge/errors";
import { HttpModelSource } from "../../../ota/edge/httpModelSource";
import type { ModelSource } from "../../../ota/edge/modelSource";
import { pullModel, type PullOptions } from "../../../ota/edge/puller";
import { S3ModelSource } from "../../../ota/edge/s3ModelSource";
import { readState } from "../../../ota/edge/stateStore";
import { S3RVER_CREDENTIALS } from "../../agent/fakes/s3Fake";
import { BUCKET, EdgeWorld, MODEL, MODELS_PREFIX, snapshot } from "./fakes/edgeWorld";
import { LOOPBACK_TLS, MisbehavingProxy, SilentServer, type Behaviour } from "./fakes/misbehavingProxy";
import { ReleaseHttpServer } from "./fakes/releaseHttpServer";

// A pull these tests let hang would run for ever: fail in 10 s instead.
jest.setTimeout(10_000);

let world: EdgeWorld;
let s3: MisbehavingProxy;
let server: ReleaseHttpServer;
let https: MisbehavingProxy;
let trustedBefore: typeof globalAgent.options.ca;
beforeAll(async () => {
  world = await EdgeWorld.start();
  s3 = await MisbehavingProxy.start(world.fake.endpoint);
  server = await ReleaseHttpServer.start();
  https = await MisbehavingProxy.start(server.origin, { tls: true });
  // What NODE_EXTRA_CA_CERTS does for the CLI: trust the test server's self-signed certificate.
  trustedBefore = globalAgent.options.ca;
  globalAgent.options.ca = LOOPBACK_TLS.cert;
});
afterAll(async () => {
  globalAgent.options.ca = trustedBefore;
  await https.close();
  await server.close();
  await s3.close();
  await world.close();
});
beforeEach(() => {
  s3.behaviours.clear();
  https.behaviours.clear();
});

type Via = "S3" | "HTTPS";

/** A source as the CLI builds it: an S3ModelSource with its own SDK client, or an HttpModelSource over TLS. */
function sourceVia(via: Via, idleTimeoutMs: number): ModelSource {
  if (via === "S3") {
    return new S3ModelSource({
      bucket: BUCKET,
      modelsPrefix: MODELS_PREFIX,
      modelName: MODEL,
      idleTimeoutMs,
      clientConfig: { region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS },
    });
  }
  return new HttpModelSource({ baseUrl: `${https.endpoint}/${MODELS_PREFIX}${MODEL}/`, idleTimeoutMs });
}

const proxyOf = (via: Via): MisbehavingProxy => (via === "S3" ? s3 : https);

async function pull(via: Via, dest: string, options: { idleTimeoutMs?: number } & Partial<PullOptions> = {}) {
  const { idleTimeoutMs = 5_000, ...extra } = options;
  const source = sourceVia(via, idleTimeoutMs);
  try {
    return await pullModel({ source, modelName: MODEL, publicKeyPem: world.publicKeyPem, dest, ...extra });
  } finally {
    source.destroy?.();
  }
}

/** Publishes a release (and mirrors the bucket to the HTTPS server). */
async function publish() {
  const release = await world.publish();
  await server.mirror(world.fake, BUCKET);
  return release;
}

/** A box that installed one release, a newer release waiting, and the box's folder as it was. */
async function boxWithUpdateWaiting(via: Via) {
  await publish();
  const dest = await world.newDest();
  expect(await pull(via, dest)).toMatchObject({ status: "installed" });
  const before = await snapshot(dest);
  const next = await publish();
  return { dest, before, next, file: (name: string) => world.layout.file(next.version, name) };
}

/**
 * The pull failed as a source problem (exit 4) matching `message`, left the box as it was, closed
 * the connection it gave up on, and a later pull over a healthy source installs (the lock is free).
 */
async function expectCleanFailure(via: Via, failed: Promise<unknown>, message: RegExp, box: { dest: string; before: Record<string, string>; next: { version: number } }, key: string) {
  const error = await failed.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SourceError);
  expect((error as SourceError).exitCode).toBe(4);
  expect((error as Error).message).toMatch(message);
  expect(await snapshot(box.dest)).toEqual(box.before);
  const reads = proxyOf(via).to(key);
  expect(reads.length).toBeGreaterThan(0);
  await waitFor(() => reads.every((r) => r.closedEarly));

  proxyOf(via).behaviours.clear();
  expect(await pull(via, box.dest)).toMatchObject({ status: "installed", version: box.next.version });
}

const stall: Behaviour = { kind: "stall", bytes: 1000 };
const silent: Behaviour = { kind: "silent" };
const trickle: Behaviour = { kind: "trickle", intervalMs: 50 };
/** An idle timeout to hit in a test, yet far above what a loopback server takes to answer. */
const IDLE_MS = 500;
/** Deadlines small enough to hit in a test: 2 s plus the length at 1 MiB/s (about 2.1 s for the 64 KiB model.onnx). */
const fastDeadlines = { minBytesPerSecond: 1024 * 1024, deadlineBaseMs: 2000 };

describe.each(["S3", "HTTPS"] as const)("a pull over %s", (via) => {
  it("gives up on a connection that goes silent after the headers (idle timeout), leaving the box as it was", async () => {
    const box = await boxWithUpdateWaiting(via);
    const key = box.file("model.onnx");
    proxyOf(via).behaviours.set(key, stall);
    await expectCleanFailure(via, pull(via, box.dest, { idleTimeoutMs: IDLE_MS }), /Reading \S+model\.onnx failed after 1000 bytes: no data for 0\.5 s \(idle timeout\)/, box, key);
  });

  it("gives up on a server that never answers (idle timeout), after a first file was downloaded, leaving the box as it was", async () => {
    const box = await boxWithUpdateWaiting(via);
    const key = box.file("model.pt");
    proxyOf(via).behaviours.set(key, silent);
    await expectCleanFailure(via, pull(via, box.dest, { idleTimeoutMs: IDLE_MS }), /\S+model\.pt could not be read: no data for 0\.5 s \(idle timeout\)/, box, key);
    // The model.onnx before it had been complete: staging was cleared all the same (the snapshot above).
    expect(proxyOf(via).to(box.file("model.onnx")).length).toBeGreaterThanOrEqual(1);
  });

  it("ends a download that trickles a byte every 50 ms at the file's deadline (minimum rate), leaving the box as it was", async () => {
    const box = await boxWithUpdateWaiting(via);
    const key = box.file("model.onnx");
    proxyOf(via).behaviours.set(key, trickle);
    await expectCleanFailure(
      via,
      // The idle timeout (5 s, the helper's) never fires: a byte comes every 50 ms.
      pull(via, box.dest, { ...fastDeadlines }),
      /Reading \S+model\.onnx failed after \d+ bytes: too slow: not done within 2\.1 s, the deadline for up to \d+ bytes \(2 s plus that length at the minimum rate of 1024 KiB\/s/,
      box,
      key,
    );
    expect(proxyOf(via).to(key)[0]!.bytesSent).toBeLessThan(1000);
  });

  it("ends a request whose answer never comes at its deadline, before the (longer) idle timeout", async () => {
    const box = await boxWithUpdateWaiting(via);
    const key = box.file("model.onnx");
    proxyOf(via).behaviours.set(key, silent);
    await expectCleanFailure(via, pull(via, box.dest, { idleTimeoutMs: 5_000, ...fastDeadlines }), /\S+model\.onnx could not be read: too slow: not done within 2\.1 s/, box, key);
  });
});

describe("a server that accepts the connection and never sends a byte", () => {
  it.each(["https", "http"] as const)("ends the pull over %s at the idle timeout; nothing is created but the folder", async (scheme) => {
    const silentServer = await SilentServer.start();
    try {
      const dest = await world.newDest();
      const source = new HttpModelSource({ baseUrl: `${scheme}://127.0.0.1:${silentServer.port}/models/widgets/`, idleTimeoutMs: IDLE_MS });
      const error = await pullModel({ source, modelName: MODEL, publicKeyPem: world.publicKeyPem, dest }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceError);
      expect((error as Error).message).toMatch(/channels\/stable\.json could not be read: no data for 0\.5 s \(idle timeout\)/);
      expect(silentServer.connections.length).toBeGreaterThan(0);
      expect(await readState(dest)).toBeUndefined();
      expect(await snapshot(dest)).toEqual({});
    } finally {
      await silentServer.close();
    }
  });

  it("ends the pull over S3 at the idle timeout (the SDK retries the request, within the deadline)", async () => {
    const silentServer = await SilentServer.start();
    const source = new S3ModelSource({
      bucket: BUCKET,
      modelName: MODEL,
      idleTimeoutMs: IDLE_MS,
      clientConfig: { region: "us-east-1", endpoint: `http://127.0.0.1:${silentServer.port}`, forcePathStyle: true, credentials: S3RVER_CREDENTIALS },
    });
    try {
      const dest = await world.newDest();
      const error = await pullModel({ source, modelName: MODEL, publicKeyPem: world.publicKeyPem, dest }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SourceError);
      expect((error as Error).message).toMatch(/channels\/stable\.json could not be read: no data for 0\.5 s \(idle timeout\)/);
      expect(await snapshot(dest)).toEqual({});
    } finally {
      source.destroy();
      await silentServer.close();
    }
  });
});

describe("timeout options", () => {
  it("refuses unusable limits as one usage error naming each, before reading the source", async () => {
    const dest = await world.newDest();
    const requests = s3.requests.length;
    const source = sourceVia("S3", 1000);
    const error = await pullModel({ source, modelName: MODEL, publicKeyPem: world.publicKeyPem, dest, minBytesPerSecond: 0, deadlineBaseMs: Number.NaN }).catch((e: unknown) => e);
    source.destroy?.();
    expect(error).toBeInstanceOf(EdgeUsageError);
    expect((error as Error).message).toMatch(/minBytesPerSecond \(--min-rate\) is 0; it must be a positive number of bytes per second/);
    expect((error as Error).message).toMatch(/deadlineBaseMs \(--deadline-base\) is NaN; it must be a number of milliseconds above 0/);
    expect(s3.requests.length).toBe(requests);
  });

  it.each([
    ["S3ModelSource", () => new S3ModelSource({ bucket: BUCKET, modelName: MODEL, idleTimeoutMs: 0 })],
    ["HttpModelSource", () => new HttpModelSource({ baseUrl: "https://models.example.com/models/widgets/", idleTimeoutMs: 2.5 })],
  ])("%s refuses an idle timeout that is not a positive whole number of ms", (_name, make) => {
    expect(make).toThrow(EdgeUsageError);
    expect(make).toThrow(/idleTimeoutMs \(--idle-timeout\) is (0|2\.5); it must be a whole number of milliseconds from 1 to 2147483647 \(default 30000\)/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
