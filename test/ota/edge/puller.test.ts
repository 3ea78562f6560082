import { promises as fs } from "fs";
import * as path from "path";
import { SourceError, VerificationRefusedError, LocalIoError, EdgeUsageError, IncompatibleReleaseError } from "../../../ota/edge/errors";
import { readState } from "../../../ota/edge/stateStore";
import { LocalKeySigner } from "../../../ota/signature";
import { channelSignatureKey, signChannelMembership } from "../../../ota/channelMembership";
import { EdgeWorld, currentLinkTarget, snapshot, MODEL, RUNTIME } from "./fakes/edgeWorld";

let world: EdgeWorld;
beforeAll(async () => {
  world = await EdgeWorld.start();
});
afterAll(async () => {
  await world.close();
});

/** A box that has installed one release, and a snapshot of its folder. */
async function boxWithOneRelease() {
  const first = await world.publish();
  const dest = await world.newDest();
  const installed = await world.pull(dest);
  expect(installed.status).toBe("installed");
  expect(installed.version).toBe(first.version);
  return { dest, first, before: await snapshot(dest) };
}

/** The refusal a pull ends with, or fails the test. */
async function refusal(promise: Promise<unknown>): Promise<VerificationRefusedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerificationRefusedError);
  return error as VerificationRefusedError;
}

describe("pullModel from S3", () => {
  it("installs the channel's release: files byte-identical, current → versions/<v>, manifest and signature kept, state recorded", async () => {
    const release = await world.publish();
    const dest = await world.newDest();
    const result = await world.pull(dest, { now: () => new Date() });

    expect(result).toMatchObject({ status: "installed", modelName: MODEL, channel: "stable", version: release.version, currentVersion: release.version, highestVersion: release.version });
    expect(result.previousVersion).toBeUndefined();
    const key = String(release.version).padStart(10, "0");
    expect(await currentLinkTarget(dest)).toBe(`versions/${key}`);
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(release.onnx);
    expect(await fs.readFile(path.join(dest, "current", "model.pt"))).toEqual(release.pt);
    expect(await fs.readFile(path.join(dest, "current", "manifest.json"))).toEqual(await world.getObject(world.layout.manifest(release.version)));
    expect(await fs.readFile(path.join(dest, "current", "manifest.json.sig"))).toEqual(await world.getObject(world.layout.signature(release.version)));
    expect(await readState(dest)).toMatchObject({ schemaVersion: 1, modelName: MODEL, channel: "stable", highestVersion: release.version, currentVersion: release.version });
    // Nothing left over: no staging, no lock, no temporary link.
    expect((await fs.readdir(dest)).sort()).toEqual(["current", "state.json", "versions"]);
  });

  it("says up to date, and changes nothing, when the channel still names the installed version", async () => {
    const { dest, first, before } = await boxWithOneRelease();
    const again = await world.pull(dest);
    expect(again).toMatchObject({ status: "up-to-date", version: first.version, currentVersion: first.version });
    expect(again.warnings).toEqual([]);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("installs a newer release over an older one, keeps the older for rollback and prunes anything before it", async () => {
    const dest = await world.newDest();
    const versions: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      versions.push((await world.publish()).version);
      await world.pull(dest);
    }
    const [, second, third] = versions as [number, number, number];
    const state = await readState(dest);
    expect(state).toMatchObject({ currentVersion: third, previousVersion: second, highestVersion: third });
    expect((await fs.readdir(path.join(dest, "versions"))).sort()).toEqual([second, third].map((v) => String(v).padStart(10, "0")));
  });

  it("refuses tampered model bytes (same length, other sha256) and leaves the box as it was", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish();
    const key = world.layout.file(next.version, "model.onnx");
    const tampered = Buffer.from(next.onnx);
    tampered[1000] = tampered[1000]! ^ 0xff;
    await world.putObject(key, tampered);

    const error = await refusal(world.pull(dest));
    expect(error.reason).toBe("hash-mismatch");
    expect(error.message).toMatch(/model\.onnx has sha256 [0-9a-f]{64}, not the [0-9a-f]{64} its signed manifest declares/);
    expect(error.exitCode).toBe(3);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("refuses a tampered manifest: the signature no longer verifies, and the manifest is not even parsed", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish();
    const key = world.layout.manifest(next.version);
    const manifest = JSON.parse((await world.getObject(key)).toString("utf8"));
    manifest.metrics["metrics/mAP50-95(B)"] = 0.99;
    await world.putObject(key, Buffer.from(JSON.stringify(manifest)));

    const error = await refusal(world.pull(dest));
    expect(error.reason).toBe("bad-signature");
    expect(error.message).toMatch(/does not verify with the pinned public key \(SHA256:[A-Za-z0-9+/]+\)/);
    expect(world.proxy.to(world.layout.file(next.version, "model.onnx"))).toEqual([]);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("refuses a release signed with another key", async () => {
    const { dest, before } = await boxWithOneRelease();
    await world.publish({ signer: LocalKeySigner.generate() });
    const error = await refusal(world.pull(dest));
    expect(error.reason).toBe("bad-signature");
    expect(await snapshot(dest)).toEqual(before);
  });

  it("refuses an unsigned release (no manifest.json.sig)", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish();
    await world.deleteObject(world.layout.signature(next.version));
    const error = await refusal(world.pull(dest));
    expect(error.reason).toBe("unsigned");
    expect(error.message).toMatch(/it is unsigned/);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("refuses a replayed older release when the channel pointer is moved back, and changes nothing", async () => {
    const { dest, first } = await boxWithOneRelease();
    const second = await world.publish();
    await world.pull(dest);
    const before = await snapshot(dest);

    await world.setPointer("stable", first.version);
    const error = await refusal(world.pull(dest));
    expect(error.reason).toBe("rollback");
    expect(error.message).toContain(`Refused version ${first.version} of ${MODEL}: this box has installed version ${second.version}`);
    expect(await snapshot(dest)).toEqual(before);
    expect(await currentLinkTarget(dest)).toBe(`versions/${String(second.version).padStart(10, "0")}`);
  });

  describe("channel membership (docs/ota.md)", () => {
    it("refuses a release that only went to candidate when someone points stable at it, and changes nothing", async () => {
      const { dest, before } = await boxWithOneRelease();
      // Published and signed, but it failed the gate: only candidate names it.
      const failedGate = await world.publish({ channels: ["candidate"] });
      await world.setPointer("stable", failedGate.version);
      const error = await refusal(world.pull(dest));
      expect(error.reason).toBe("not-in-channel");
      expect(error.exitCode).toBe(3);
      expect(error.message).toContain(`Refused version ${failedGate.version} of ${MODEL}: the channel pointer names it, but it was never signed into channel "stable"`);
      // Refused before a byte of the model was read.
      expect(world.proxy.to(world.layout.file(failedGate.version, "model.onnx"))).toEqual([]);
      expect(await snapshot(dest)).toEqual(before);
      // A box that follows candidate installs the same release: it is a member there.
      const candidateBox = await world.newDest();
      expect(await world.pull(candidateBox, { channel: "candidate" })).toMatchObject({ status: "installed", version: failedGate.version });
    });

    it("refuses a candidate membership signature copied over as stable's, and one made with another key", async () => {
      const { dest, before } = await boxWithOneRelease();
      const next = await world.publish({ channels: ["candidate"] });
      await world.setPointer("stable", next.version);
      const stableKey = channelSignatureKey(world.layout, "stable", next.version);
      await world.putObject(stableKey, await world.getObject(channelSignatureKey(world.layout, "candidate", next.version)));
      expect((await refusal(world.pull(dest))).message).toMatch(/is not a signature by the pinned public key \(SHA256:[A-Za-z0-9+/]+\) that this version is in channel "stable"/);
      await world.putObject(stableKey, Buffer.from(await signChannelMembership(LocalKeySigner.generate(), MODEL, "stable", next.version)));
      expect((await refusal(world.pull(dest))).reason).toBe("not-in-channel");
      expect(await snapshot(dest)).toEqual(before);
    });
  });

  it("refuses an older signed manifest copied into a newer version's folder (mix and match)", async () => {
    const { dest, first, before } = await boxWithOneRelease();
    const next = await world.publish();
    await world.putObject(world.layout.manifest(next.version), await world.getObject(world.layout.manifest(first.version)));
    await world.putObject(world.layout.signature(next.version), await world.getObject(world.layout.signature(first.version)));
    const error = await refusal(world.pull(dest));
    expect(error.reason).toBe("version-mismatch");
    expect(await snapshot(dest)).toEqual(before);
  });

  it("refuses an expired manifest, naming when it expired", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish({ now: new Date(Date.now() - 10 * 86_400_000), expiresInDays: 1 });
    const error = await refusal(world.pull(dest));
    expect(error.reason).toBe("expired");
    expect(error.message).toMatch(new RegExp(`Refused version ${next.version} of ${MODEL}: its manifest expired at \\d{4}-`));
    expect(await snapshot(dest)).toEqual(before);
  });

  it("stops reading an oversized file one byte past its declared length, and refuses it", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish();
    const key = world.layout.file(next.version, "model.onnx");
    await world.putObject(key, Buffer.concat([next.onnx, Buffer.alloc(4 * 1024 * 1024, 1)]));

    const error = await refusal(world.pull(dest));
    expect(error.reason).toBe("oversized");
    const reads = world.proxy.to(key);
    expect(reads).toHaveLength(1);
    expect(reads[0]!.range).toBe(`bytes=0-${next.onnx.length}`);
    expect(reads[0]!.bytesSent).toBe(next.onnx.length + 1);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("refuses a truncated file", async () => {
    const { dest, before } = await boxWithOneRelease();
    const next = await world.publish();
    await world.putObject(world.layout.file(next.version, "model.pt"), next.pt!.subarray(0, next.pt!.length - 100));
    const error = await refusal(world.pull(dest));
    expect(error.reason).toBe("truncated");
    expect(error.message).toContain(`has ${next.pt!.length - 100} bytes, fewer than the ${next.pt!.length} its signed manifest declares`);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("reports a channel pointer to a missing version as a source problem, and changes nothing", async () => {
    const { dest, before } = await boxWithOneRelease();
    await world.setPointer("stable", 9_999);
    const error = await world.pull(dest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).exitCode).toBe(4);
    expect((error as SourceError).message).toMatch(/points at version 9999, but its manifest is missing/);
    expect(await snapshot(dest)).toEqual(before);
  });

  it("reports a channel that does not exist as a source problem", async () => {
    const dest = await world.newDest();
    await world.publish({ channels: [] });
    const error = await world.pull(dest, { channel: "nightly" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).message).toMatch(/Channel "nightly" of model "widgets" does not exist/);
  });

  it.each([
    ["a private key", () => LocalKeySigner.generate().privateKeyPem(), /PRIVATE key/],
    ["text that is no key", () => "hello", /not a readable PEM public key/],
  ])("refuses to start with %s as the pinned key", async (_name, pem, message) => {
    const dest = await world.newDest();
    const error = await world.pull(dest, { publicKeyPem: pem() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeUsageError);
    expect((error as Error).message).toMatch(message);
  });

  it("refuses to pull another model into a folder that holds one", async () => {
    const { dest } = await boxWithOneRelease();
    const error = await world.pull(dest, { modelName: "gadgets" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeUsageError);
    expect((error as Error).message).toMatch(/holds model "widgets", not "gadgets"/);
  });

  it("says the folder is busy while another live process holds its lock", async () => {
    const { dest, before } = await boxWithOneRelease();
    await world.publish();
    await fs.writeFile(path.join(dest, ".lock"), JSON.stringify({ pid: process.pid, since: "2026-01-01T00:00:00.000Z", token: "x" }));
    const error = await world.pull(dest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalIoError);
    expect((error as Error).message).toMatch(new RegExp(`is busy: process ${process.pid} holds`));
    await fs.rm(path.join(dest, ".lock"));
    expect(await snapshot(dest)).toEqual(before);
  });

  it("takes over a lock left by a process that is gone", async () => {
    const { dest } = await boxWithOneRelease();
    const next = await world.publish();
    await fs.writeFile(path.join(dest, ".lock"), JSON.stringify({ pid: 2 ** 22 + 12345, since: "2026-01-01T00:00:00.000Z", token: "x" }));
    const result = await world.pull(dest);
    expect(result).toMatchObject({ status: "installed", version: next.version });
  });
});

describe("an interrupted install", () => {
  it.each(["download", "commit", "swap"] as const)("failing before the %s step leaves the previous model current, and a later pull succeeds", async (step) => {
    const { dest, first, before } = await boxWithOneRelease();
    const next = await world.publish();
    const crash = new Error(`power cut before ${step}`);
    await expect(world.pull(dest, { beforeStep: (s) => { if (s === step) throw crash; } })).rejects.toBe(crash);

    expect(await currentLinkTarget(dest)).toBe(`versions/${String(first.version).padStart(10, "0")}`);
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(first.onnx);
    expect(await readState(dest)).toMatchObject({ currentVersion: first.version, highestVersion: first.version });
    if (step !== "swap") expect(await snapshot(dest)).toEqual(before);

    const later = await world.pull(dest);
    expect(later).toMatchObject({ status: "installed", version: next.version, previousVersion: first.version });
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(next.onnx);
  });

  it("failing between the swap and the state write: the next pull trusts current, repairs the state and is up to date", async () => {
    const { dest, first } = await boxWithOneRelease();
    const next = await world.publish();
    await expect(world.pull(dest, { beforeStep: (s) => { if (s === "record") throw new Error("power cut"); } })).rejects.toThrow("power cut");
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(next.onnx);
    expect(await readState(dest)).toMatchObject({ currentVersion: first.version });

    const later = await world.pull(dest);
    expect(later).toMatchObject({ status: "up-to-date", version: next.version, currentVersion: next.version, previousVersion: first.version });
    expect(await readState(dest)).toMatchObject({ currentVersion: next.version, highestVersion: next.version, previousVersion: first.version });
  });

  it("a source answering 500s leaves the previous model and no staging", async () => {
    const { dest, first, before } = await boxWithOneRelease();
    await world.publish();
    world.fake.proxy.injectFaults([{ requests: 3, failEvery: 1, status: 500 }]);
    const error = await world.pull(dest).catch((e: unknown) => e);
    world.fake.proxy.injectFaults([]);
    expect(error).toBeInstanceOf(SourceError);
    expect(await currentLinkTarget(dest)).toBe(`versions/${String(first.version).padStart(10, "0")}`);
    expect(await snapshot(dest)).toEqual(before);
  });
});

describe("what the box runs (--max-opset, --onnxruntime)", () => {
  /** The incompatibility a pull ends with, or fails the test. */
  async function incompatible(promise: Promise<unknown>): Promise<IncompatibleReleaseError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IncompatibleReleaseError);
    return error as IncompatibleReleaseError;
  }

  it("refuses a release that needs a higher opset before downloading any file: exit 6, state untouched, current model kept", async () => {
    const { dest, first, before } = await boxWithOneRelease();
    const next = await world.publish({ runtime: { ...RUNTIME, opset: 17 } });
    const error = await incompatible(world.pull(dest, { box: { maxOpset: 16 } }));
    expect(error).toMatchObject({ kind: "incompatible", exitCode: 6, needsOpset: 17, maxOpset: 16 });
    expect(error.message).toBe(
      `Refused version ${next.version} of ${MODEL}: it needs ONNX opset 17 (verified with onnxruntime 1.20.1), but this box runs at most opset 16 (--max-opset 16). ` +
        "Upgrade ONNX Runtime on this box to 1.12 or later (then pass the new --onnxruntime or --max-opset), or publish a model exported at opset 16 or lower. " +
        "Nothing was downloaded; the current model, if any, keeps running.",
    );
    expect(world.proxy.to(world.layout.file(next.version, "model.onnx"))).toEqual([]);
    expect(world.proxy.to(world.layout.file(next.version, "model.pt"))).toEqual([]);
    expect(await snapshot(dest)).toEqual(before);
    expect(await fs.readFile(path.join(dest, "current", "model.onnx"))).toEqual(first.onnx);

    // Once the box says it runs opset 17, the same release installs.
    expect(await world.pull(dest, { box: { maxOpset: 17 } })).toMatchObject({ status: "installed", version: next.version, warnings: [] });
  });

  it("maps --onnxruntime to its opset with ONNX Runtime's table: 1.11.1 runs up to 16, 1.16.3 up to 19", async () => {
    const dest = await world.newDest();
    const release = await world.publish({ runtime: { ...RUNTIME, opset: 17 } });
    const error = await incompatible(world.pull(dest, { box: { onnxruntime: "1.11.1" } }));
    expect(error.message).toMatch(/needs ONNX opset 17 .*, but this box runs at most opset 16 \(onnxruntime 1\.11\.1 \(opset 16 per ONNX Runtime's compatibility table\)\)\. Upgrade ONNX Runtime on this box to 1\.12 or later/);
    // Nothing was created but the folder itself: no state, no version.
    expect(await readState(dest)).toBeUndefined();
    const lines: string[] = [];
    const installed = await world.pull(dest, { box: { onnxruntime: "1.16.3" }, log: (line) => lines.push(line) });
    expect(installed).toMatchObject({ status: "installed", version: release.version, warnings: [] });
    expect(lines).toContain(`version ${release.version} needs ONNX opset 17; this box runs up to 19 (onnxruntime 1.16.3 (opset 19 per ONNX Runtime's compatibility table))`);
  });

  it("with both options, the lower ceiling holds", async () => {
    const dest = await world.newDest();
    await world.publish({ runtime: { ...RUNTIME, opset: 18 } });
    const error = await incompatible(world.pull(dest, { box: { onnxruntime: "1.20.1", maxOpset: 17 } }));
    expect(error.message).toMatch(/runs at most opset 17 \(--max-opset 17\)/);
  });

  it("installs a manifest published before runtime existed, warning that it could not be checked", async () => {
    const dest = await world.newDest();
    const old = await world.publish({ runtime: null });
    const result = await world.pull(dest, { box: { maxOpset: 12 } });
    expect(result).toMatchObject({ status: "installed", version: old.version });
    expect(result.manifest.runtime).toBeUndefined();
    expect(result.warnings).toEqual([
      `version ${old.version}: its manifest does not say which ONNX opset the model needs (published before manifests did), so it could not be checked against --max-opset 12; installed unchecked, as before.`,
    ]);
    // A box that said nothing gets no warning.
    const other = await world.newDest();
    expect((await world.pull(other)).warnings).toEqual([]);
  });

  it("takes an ONNX Runtime newer than its table as running the table's newest opset, and says so", async () => {
    const dest = await world.newDest();
    await world.publish({ runtime: { ...RUNTIME, opset: 22 } });
    const error = await incompatible(world.pull(dest, { box: { onnxruntime: "1.23.0" } }));
    expect(error.message).toMatch(/needs ONNX opset 22 .*, but this box runs at most opset 21 \(onnxruntime 1\.23\.0 .*Upgrade this box's ONNX runtime to one that runs opset 22/);
    const release = await world.publish({ runtime: { ...RUNTIME, opset: 21 } });
    const result = await world.pull(dest, { box: { onnxruntime: "1.23.0" } });
    expect(result).toMatchObject({ status: "installed", version: release.version });
    expect(result.warnings).toEqual([expect.stringMatching(/^onnxruntime 1\.23\.0 is newer than this puller's compatibility table \(up to 1\.20, opset 21\); assuming it runs opset 21\. If it runs more, say so with --max-opset\.$/)]);
  });

  it.each([
    ["--max-opset 0", { maxOpset: 0 }, /--max-opset must be an ONNX opset, an integer from 1 to 99, got 0/],
    ["--max-opset 17.5", { maxOpset: 17.5 }, /--max-opset must be an ONNX opset, an integer from 1 to 99, got 17\.5/],
    ["--onnxruntime latest", { onnxruntime: "latest" }, /--onnxruntime must be an ONNX Runtime version such as 1\.16\.3 .*, got "latest"/],
    ["--onnxruntime 1", { onnxruntime: "1" }, /--onnxruntime must be an ONNX Runtime version/],
  ])("refuses %s as a usage error before reading the source", async (_name, box, message) => {
    const dest = await world.newDest();
    const requests = world.proxy.requests.length;
    const error = await world.pull(dest, { box }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeUsageError);
    expect((error as EdgeUsageError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(message);
    expect(world.proxy.requests.length).toBe(requests);
  });
});
