import { spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { pullModel, S3ModelSource } from "../../../ota/edge";
import { parseChannelPointer, parseManifest } from "../../../ota/manifest";
import { verifyManifestSignature } from "../../../ota/signature";
import { describeWithRealUltralytics, REAL_TRAINING_TIMEOUT_MS } from "../../docker/realUltralytics";
import { EXIT, NodeWorld, type AgentRun } from "../fakes/nodeWorld";
import { checkpointFacts, processesMentioning, realTrainerEnv, writeSyntheticInputs, writeTrainerSpec, type SyntheticInputs } from "../fakes/realTrainer";
import type { RunRecord } from "../fakes/runRecordAuditor";
import { autoScalingCalls, expectExit, historyPhases, otaKeys, progressLines, runKeys, storedRecord, teardownOf } from "../fakes/runExpectations";
import { sha256Hex } from "../fakes/standInCheckpoint";
import { zipProblem } from "../fakes/zipArchive";

/**
 * Issue 8: the node as it ships, end to end. The bundled agent supervises docker/train.py with the
 * real ultralytics (on the CPU) against s3rver and the IMDS, Auto Scaling and KMS fakes. A spot
 * notice stops the first node during epoch 2; a replacement resumes from the checkpoint the first
 * one uploaded, finishes, exports ONNX, publishes the signed OTA release and terminates itself.
 */

const FIRST = "i-0a1b2c3d4e5f60001";
const REPLACEMENT = "i-0a1b2c3d4e5f60002";
const EPOCHS = 3;
const IMGSZ = 64;
const MODEL_KEY = "weights/yolov8n-synthetic-start.pt";
const ARTIFACT_BUCKET = "yolo-train-dev-artifacts";
/** A node's agent, trainer start-up included; the whole test should take well under REAL_TRAINING_TIMEOUT_MS. */
const NODE_TIMEOUT_MS = 150_000;

/**
 * The output shape ONNX Runtime (onnxruntime-node) gives for one grey image of the model's input
 * shape. In a child process: in jest's sandbox onnxruntime's own typed-array checks reject arrays
 * made by the test (they come from another realm).
 */
function onnxOutputShape(modelPath: string): number[] {
  const script = `
const ort = require("onnxruntime-node");
(async () => {
  const session = await ort.InferenceSession.create(process.argv[1], { executionProviders: ["cpu"] });
  const dims = [1, 3, Number(process.argv[2]), Number(process.argv[2])];
  const input = new ort.Tensor("float32", new Float32Array(dims.reduce((a, b) => a * b)).fill(0.5), dims);
  const outputs = await session.run({ [session.inputNames[0]]: input });
  process.stdout.write(JSON.stringify(outputs[session.outputNames[0]].dims));
})().catch((error) => { console.error(error); process.exit(1); });`;
  const done = spawnSync(process.execPath, ["-e", script, modelPath, String(IMGSZ)], { cwd: join(__dirname, "..", "..", ".."), encoding: "utf8", timeout: 60_000 });
  if (done.status !== 0) throw new Error(`onnxruntime-node could not run ${modelPath}:\n${done.stderr}`);
  return JSON.parse(done.stdout) as number[];
}

/** Resolves once `ready` holds; fails at once, with the agent's output, if the agent exits first. */
async function until(what: string, ready: () => boolean, agent: AgentRun, timeoutMs: number): Promise<void> {
  let exited = false;
  void agent.exit.then(() => (exited = true), () => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (exited) throw new Error(`${what}: the agent exited first\n${agent.output}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${agent.output}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function epochsIn(progressFile: string): number[] {
  if (!existsSync(progressFile)) return [];
  const bytes = readFileSync(progressFile);
  // Complete lines only: the trainer may be appending one.
  return progressLines(bytes.subarray(0, bytes.lastIndexOf(10) + 1)).map((l) => l.epoch);
}

describeWithRealUltralytics("the node as it ships: bundled agent, docker/train.py, real ultralytics", (real) => {
  let inputsDir: string;
  let inputs: SyntheticInputs;
  let world: NodeWorld;
  /** One scratch path for both nodes, as every node mounts its NVMe at /scratch; emptied between them. */
  let scratch: string;
  let trainerSpec: string;
  let interrupted: RunRecord;
  /** The checkpoint the first node left in S3 (the second overwrites the key). */
  let interruptedCheckpoint: string;

  beforeAll(async () => {
    inputsDir = mkdtempSync(join(tmpdir(), "yolo-train-real-node-"));
    inputs = writeSyntheticInputs(real, inputsDir);
    world = await NodeWorld.start({
      instanceId: FIRST,
      checkpoints: "ultralytics",
      spec: {
        model: `s3://${ARTIFACT_BUCKET}/${MODEL_KEY}`,
        data: { kind: "mounted", yamlPath: "/data/data.yaml" },
        train: { epochs: EPOCHS, imgsz: IMGSZ, batch: 8, gpus: 1, hyperparameters: { workers: 0 } },
      },
    });
    expect(world.bucket).toBe(ARTIFACT_BUCKET);
    await world.s3.putObject(world.bucket, MODEL_KEY, readFileSync(inputs.startingWeights));
    trainerSpec = join(world.root, "trainer-run-spec.json");
    writeTrainerSpec(world.specPath, trainerSpec, inputs.dataYaml);
    scratch = join(world.root, "scratch");
  }, REAL_TRAINING_TIMEOUT_MS);

  afterAll(async () => {
    if (world) {
      for (const pid of processesMentioning(world.root)) process.kill(pid, "SIGKILL");
      await world.close();
    }
    if (inputsDir) rmSync(inputsDir, { recursive: true, force: true });
  });

  function runNode(node: number) {
    mkdirSync(scratch, { recursive: true });
    return world.runAgent({
      scratch,
      timeoutMs: NODE_TIMEOUT_MS,
      env: realTrainerEnv(real, { configDir: join(world.root, `node-${node}-ultralytics`), datasetRoot: inputs.datasetRoot, trainerSpecPath: trainerSpec }),
    });
  }

  it(
    "stops the first node on a spot notice during epoch 2: epoch 1's checkpoint in S3, the record interrupted, exit 75, no teardown",
    async () => {
      const first = runNode(1);
      const progressFile = join(scratch, "runs", world.spec.runId, "progress.jsonl");
      // Epoch 1 is done once its progress line is there (ultralytics saved last.pt just before);
      // epoch 2 starts at once and takes over a second here, so the notice lands inside it.
      await until("the progress line of epoch 1", () => epochsIn(progressFile).length >= 1, first, NODE_TIMEOUT_MS);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(epochsIn(progressFile)).toEqual([1]);
      world.imds.triggerSpotNotice();
      await expectExit(first, EXIT.interrupted);

      expect(autoScalingCalls(world)).toEqual([]);
      expect(world.asg.desiredCapacity(world.groupName)).toBe(1);
      interrupted = await storedRecord(world);
      expect(interrupted).toMatchObject({
        phase: "interrupted",
        attempts: 1,
        interruptions: 0,
        epoch: 1,
        epochs: EPOCHS,
        checkpoint: { key: `${world.prefix}checkpoints/phase-0/last.pt`, phase: 0, epoch: 1 },
      });
      expect(interrupted.error).toMatch(/spot/i);
      expect(historyPhases(interrupted)).toEqual(["starting", "training", "interrupted"]);

      // The object is the whole checkpoint the record names, with its sha256 as metadata.
      const object = (await world.s3.getObjectWithMetadata(world.bucket, interrupted.checkpoint!.key))!;
      expect(zipProblem(object.bytes)).toBeUndefined();
      expect({ bytes: object.bytes.length, sha256: sha256Hex(object.bytes), metadata: object.metadata.sha256 }).toEqual({
        bytes: interrupted.checkpoint!.bytes,
        sha256: interrupted.checkpoint!.sha256,
        metadata: interrupted.checkpoint!.sha256,
      });
      interruptedCheckpoint = join(inputsDir, "interrupted-last.pt");
      writeFileSync(interruptedCheckpoint, object.bytes);
      expect(await runKeys(world)).toEqual(["checkpoints/phase-0/best.pt", "checkpoints/phase-0/last.pt", "lease.json", "progress.jsonl", "run.json", `(outside the run prefix) ${MODEL_KEY}`]);
      expect(progressLines(await world.object("progress.jsonl")).map((l) => l.epoch)).toEqual([1]);
      expect(world.auditor.violations).toEqual([]);
      expect(processesMentioning(world.root)).toEqual([]);
    },
    REAL_TRAINING_TIMEOUT_MS,
  );

  it(
    "lets the replacement resume from that checkpoint, finish, export ONNX, publish the signed release and terminate only itself",
    async () => {
      expect(interrupted).toBeDefined();
      // EC2 reclaimed the first instance and its disk; the group starts another.
      rmSync(scratch, { recursive: true, force: true });
      world.replaceNode(REPLACEMENT);
      const second = runNode(2);
      const exit = await expectExit(second, EXIT.done);

      // The trainer was handed the uploaded checkpoint (YOLO_TRAIN_RESUME) and went on from epoch 2.
      expect(exit.stdout).toMatch(/train\.py: phase-0: resuming from \S+/);
      expect(exit.stdout).not.toMatch(/train\.py: phase-0: training /);
      const record = await storedRecord(world);
      expect(record).toMatchObject({
        phase: "completed",
        error: null,
        attempts: 2,
        interruptions: 1,
        epoch: EPOCHS,
        epochs: EPOCHS,
        trainingPhase: 0,
        trainingPhases: 1,
        startedAt: interrupted.startedAt,
        artifacts: { best: `${world.prefix}model/best.pt`, onnx: `${world.prefix}model/best.onnx`, result: `${world.prefix}model/result.json` },
      });
      expect(historyPhases(record)).toEqual(["starting", "training", "interrupted", "starting", "training", "uploading", "completed"]);
      expect(record.billedSeconds!).toBeGreaterThan(interrupted.billedSeconds!);
      // One line per epoch over both nodes: epoch 1 from the first, 2 and 3 appended by the second.
      expect(progressLines(await world.object("progress.jsonl")).map((l) => l.epoch)).toEqual([1, 2, 3]);

      // The run cache (cache/weights/, cache/labels/: agent/runCache.ts) is another test's subject.
      const keys = await runKeys(world);
      expect(keys.filter((k) => k.startsWith("cache/") && !/^cache\/(weights|labels)\/[^/]+$/.test(k))).toEqual([]);
      expect(keys.filter((k) => !k.startsWith("cache/"))).toEqual([
        "checkpoints/phase-0/best.pt",
        "checkpoints/phase-0/last.pt",
        "lease.json",
        "model/best.onnx",
        "model/best.pt",
        "model/result.json",
        "progress.jsonl",
        "run.json",
        `(outside the run prefix) ${MODEL_KEY}`,
      ]);
      const model: Record<string, Buffer> = {};
      for (const name of ["best.pt", "best.onnx", "result.json"]) {
        const object = (await world.s3.getObjectWithMetadata(world.bucket, `${world.prefix}model/${name}`))!;
        expect({ name, sha256: object.metadata.sha256 }).toEqual({ name, sha256: sha256Hex(object.bytes) });
        model[name] = object.bytes;
      }
      const result = JSON.parse(model["result.json"]!.toString("utf8")) as Record<string, unknown>;
      expect(result).toMatchObject({ status: "completed", imgsz: IMGSZ, classNames: inputs.classNames });
      expect(zipProblem(model["best.pt"]!)).toBeUndefined();

      // The checkpoints, read by torch: the first node's is epoch 1's, resumable (optimizer kept);
      // the second's is the run's final one, which ultralytics finalises to epoch -1.
      const finalCheckpoint = join(inputsDir, "final-last.pt");
      writeFileSync(finalCheckpoint, (await world.s3.getObject(world.bucket, record.checkpoint!.key))!);
      const [first, final] = checkpointFacts(real, [interruptedCheckpoint, finalCheckpoint], inputsDir);
      expect(first).toMatchObject({ epoch: 0, epochs: EPOCHS, hasOptimizer: true });
      expect(final).toMatchObject({ epoch: -1, epochs: EPOCHS });

      // The released model runs: ONNX Runtime takes a 1×3×64×64 image and gives YOLOv8's
      // (4 box + 3 class) × 84 anchor outputs (8×8 + 4×4 + 2×2 cells at 64 px).
      const onnxFile = join(inputsDir, "released.onnx");
      writeFileSync(onnxFile, model["best.onnx"]!);
      expect(onnxOutputShape(onnxFile)).toEqual([1, 4 + inputs.classNames.length, 84]);

      // The signed OTA release, on candidate, carrying exactly the trained files.
      const ota = world.spec.ota;
      expect(record.release).toMatchObject({ modelName: ota.modelName, version: 1, bucket: ota.bucket, channels: ["candidate"] });
      expect(await otaKeys(world)).toEqual([
        "channels/candidate.json",
        "channels/candidate/0000000001.sig",
        "versions/0000000001/.claim",
        "versions/0000000001/manifest.json",
        "versions/0000000001/manifest.json.sig",
        "versions/0000000001/model.onnx",
        "versions/0000000001/model.pt",
      ]);
      const manifestBytes = (await world.s3.getObject(ota.bucket, `${ota.prefix}versions/0000000001/manifest.json`))!;
      const signature = (await world.s3.getObject(ota.bucket, `${ota.prefix}versions/0000000001/manifest.json.sig`))!;
      expect(verifyManifestSignature(manifestBytes, signature, world.kms.publicKeyPem)).toBe(true);
      expect(parseManifest(manifestBytes)).toMatchObject({
        modelName: ota.modelName,
        version: 1,
        runId: world.spec.runId,
        metrics: record.metrics,
        inputSize: IMGSZ,
        classNames: inputs.classNames,
        files: [
          { path: "model.onnx", length: model["best.onnx"]!.length, sha256: sha256Hex(model["best.onnx"]!) },
          { path: "model.pt", length: model["best.pt"]!.length, sha256: sha256Hex(model["best.pt"]!) },
        ],
      });
      expect(parseChannelPointer((await world.s3.getObject(ota.bucket, `${ota.prefix}channels/candidate.json`))!)).toMatchObject({ channel: "candidate", version: 1 });
      expect((await world.s3.getObject(ota.bucket, `${ota.prefix}versions/0000000001/model.onnx`))!.equals(model["best.onnx"]!)).toBe(true);
      // …and an edge box following candidate installs it, verified against the pinned key.
      const dest = join(inputsDir, "edge");
      const pulled = await pullModel({
        source: new S3ModelSource({ bucket: ota.bucket, modelsPrefix: ota.prefix.slice(0, -`${ota.modelName}/`.length), modelName: ota.modelName, client: world.s3.client }),
        modelName: ota.modelName,
        channel: "candidate",
        publicKeyPem: world.kms.publicKeyPem,
        dest,
      });
      expect(pulled).toMatchObject({ status: "installed", version: 1 });
      expect(readFileSync(join(pulled.currentPath, "model.onnx")).equals(model["best.onnx"]!)).toBe(true);

      // Exactly one teardown, by the replacement, of itself; none by the interrupted node.
      expect(autoScalingCalls(world)).toEqual([teardownOf(REPLACEMENT)]);
      expect(world.asg.desiredCapacity(world.groupName)).toBe(0);
      expect(world.auditor.violations).toEqual([]);
      expect(processesMentioning(world.root)).toEqual([]);
    },
    REAL_TRAINING_TIMEOUT_MS,
  );
});
