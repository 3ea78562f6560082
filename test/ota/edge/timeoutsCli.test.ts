/**
 * `yolo-train edge pull --idle-timeout/--min-rate/--deadline-base` in a process of its own: a
 * stalled or trickling source ends the pull with exit 4, the box as it was, and the lock free for
 * the next run (which a cron line or a timer depends on).
 */
import { promises as fs } from "fs";
import * as path from "path";
import { BUCKET, EdgeWorld, MODEL, MODELS_PREFIX, snapshot } from "./fakes/edgeWorld";
import { LOOPBACK_TLS, MisbehavingProxy } from "./fakes/misbehavingProxy";
import { ReleaseHttpServer } from "./fakes/releaseHttpServer";
import { runYoloTrain, type CliOutcome } from "./fakes/cliProcess";

// A pull left hanging would never exit: fail in 20 s instead (each test runs two or three CLIs).
jest.setTimeout(20_000);

let world: EdgeWorld;
let s3: MisbehavingProxy;
let server: ReleaseHttpServer;
let https: MisbehavingProxy;
let keyFile: string;
let caFile: string;
beforeAll(async () => {
  world = await EdgeWorld.start();
  s3 = await MisbehavingProxy.start(world.fake.endpoint);
  server = await ReleaseHttpServer.start();
  https = await MisbehavingProxy.start(server.origin, { tls: true });
  keyFile = path.join(world.root, "ota-public-key.pem");
  await fs.writeFile(keyFile, world.publicKeyPem);
  caFile = path.join(world.root, "loopback-ca.pem");
  await fs.writeFile(caFile, LOOPBACK_TLS.cert);
});
afterAll(async () => {
  await https.close();
  await server.close();
  await s3.close();
  await world.close();
});

/** `yolo-train …` under node; S3 through the misbehaving proxy, the test CA trusted as a box would (NODE_EXTRA_CA_CERTS). */
function yoloTrain(args: string[]): Promise<CliOutcome> {
  return runYoloTrain(args, { home: world.root, s3Endpoint: s3.endpoint, env: { NODE_EXTRA_CA_CERTS: caFile } });
}

const base = (dest: string): string[] => ["edge", "pull", "--model", MODEL, "--public-key", keyFile, "--dest", dest];
const overS3 = (dest: string, ...more: string[]): string[] => [...base(dest), "--bucket", BUCKET, ...more];
const overHttps = (dest: string, ...more: string[]): string[] => [...base(dest), "--base-url", `${https.endpoint}/${MODELS_PREFIX}${MODEL}/`, ...more];

describe("yolo-train edge pull timeouts (a subprocess)", () => {
  it("--min-rate and --deadline-base end a trickling HTTPS download: exit 4, the box as it was, and the next pull is not busy", async () => {
    await world.publish();
    await server.mirror(world.fake, BUCKET);
    const dest = await world.newDest();
    expect((await yoloTrain(overHttps(dest, "--quiet"))).status).toBe(0);
    const before = await snapshot(dest);
    const next = await world.publish();
    await server.mirror(world.fake, BUCKET);
    const key = world.layout.file(next.version, "model.onnx");
    https.behaviours.set(key, { kind: "trickle", intervalMs: 50 });

    const slow = await yoloTrain(overHttps(dest, "--min-rate", "1024", "--deadline-base", "2", "--json"));
    https.behaviours.clear();
    expect(slow.stderr).toMatch(/yolo-train edge pull: source unavailable: Reading \S+model\.onnx failed after \d+ bytes: too slow: not done within 2\.1 s/);
    expect(slow.status).toBe(4);
    expect(JSON.parse(slow.stdout)).toMatchObject({ error: { kind: "source", exitCode: 4 } });
    expect(await snapshot(dest)).toEqual(before);

    const later = await yoloTrain(overHttps(dest));
    expect(later.stderr).not.toMatch(/busy/);
    expect(later.status).toBe(0);
    expect(later.stdout).toContain(`installed ${MODEL} version ${next.version}`);
  });

  it("--idle-timeout ends an S3 download that stalls after the headers: exit 4, the box as it was, and the next pull installs", async () => {
    await world.publish();
    const dest = await world.newDest();
    expect((await yoloTrain(overS3(dest, "--quiet"))).status).toBe(0);
    const before = await snapshot(dest);
    const next = await world.publish();
    const key = world.layout.file(next.version, "model.onnx");
    s3.behaviours.set(key, { kind: "stall", bytes: 1000 });

    const stalled = await yoloTrain(overS3(dest, "--idle-timeout", "0.5"));
    s3.behaviours.clear();
    expect(stalled.stderr).toMatch(/source unavailable: Reading \S+model\.onnx failed after 1000 bytes: no data for 0\.5 s \(idle timeout\)/);
    expect(stalled.status).toBe(4);
    expect(await snapshot(dest)).toEqual(before);

    const later = await yoloTrain(overS3(dest));
    expect(later.status).toBe(0);
    expect(later.stdout).toContain(`installed ${MODEL} version ${next.version}`);
  });

  it("refuses unusable timing flags all at once (exit 2), naming each flag, its value and what is allowed, before reading anything", async () => {
    const requests = s3.requests.length;
    const outcome = await yoloTrain(overS3(await world.newDest(), "--idle-timeout", "30000ms", "--min-rate", "0", "--deadline-base=-5"));
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toContain("3 options are unusable:");
    expect(outcome.stderr).toContain('`--idle-timeout` is "30000ms"; it must be a number of seconds (not milliseconds) from 0.1 to 3600. Fix: e.g. --idle-timeout 30 (the default)');
    expect(outcome.stderr).toContain('`--min-rate` is "0"; it must be a number of KiB per second from 0.1 to 1048576. Fix: e.g. --min-rate 16 (the default)');
    expect(outcome.stderr).toContain('`--deadline-base` is "-5"; it must be a number of seconds (not milliseconds) from 0.1 to 86400. Fix: e.g. --deadline-base 60 (the default)');
    expect(s3.requests.length).toBe(requests);
  });
});
