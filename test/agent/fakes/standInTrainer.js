#!/usr/bin/env node
/*
 * A stand-in for docker/train.py (ultralytics) that keeps the trainer contract of
 * docs/node-runtime.md without a GPU, so the lifecycle suite can run the real agent against it.
 *
 * Contract side (what the agent sees):
 * - reads YOLO_TRAIN_RUN_SPEC, YOLO_TRAIN_WORKDIR, YOLO_TRAIN_RESUME, YOLO_TRAIN_RESUME_PHASE;
 * - every epoch rewrites <workdir>/phase-<k>/weights/last.pt whole (one write, not atomic, as
 *   ultralytics' save_model does), then best.pt, then appends one line to progress.jsonl
 *   (ultralytics saves the model before its on_fit_epoch_end callbacks run);
 * - at the end writes best.onnx beside best.pt and <workdir>/result.json, exit 0; result.json
 *   carries `onnxExport`, the report of the ONNX-vs-PyTorch check (a passing one by default);
 * - resuming from a checkpoint of the last epoch of the last phase reports "already-complete".
 *
 * Test side (never read by the agent), all optional environment variables:
 *   STANDIN_LOG               JSON-lines journal of what happened (start, checkpoint, exit…), outside the workdir
 *   STANDIN_EPOCH_MS          time per epoch (default 200)
 *   STANDIN_STARTUP_MS        "data loading" before the first epoch, GPU idle meanwhile (default 0)
 *   STANDIN_CHECKPOINT_BYTES  size of last.pt / best.pt (default 300000)
 *   STANDIN_CRASH_AT_EPOCH    exit non-zero during this epoch (1-based, counted over all phases)
 *   STANDIN_CRASH_ATTEMPTS    only the first N starts crash (default: every start); starts are counted in STANDIN_LOG
 *   STANDIN_CRASH_CODE        exit status of a crash (default 1)
 *   STANDIN_HANG_AT_EPOCH     during this epoch stop writing and idle the GPU, but keep running
 *   STANDIN_WRITE_CACHE_FILES 1: at start, write <scratch>/weights/yolo11n.pt and
 *                             <workdir>/label-cache/train.cache unless they exist (as ultralytics fetches
 *                             and builds them), journalling ("cache-files") which existed and their sha256
 *   STANDIN_GPU_FILE          file the stand-in keeps at its "GPU utilisation" (one line per GPU),
 *                             for YOLO_TRAIN_GPU_QUERY="cat <file>"
 *   STANDIN_ONNX_CHECK        the onnxExport result.json reports: "pass" (default), "fail" (ONNX Runtime's
 *                             output differs from PyTorch's), "missing" (no onnxExport, as a trainer
 *                             before the check wrote) or "malformed" (an opset that is not a number)
 *   STANDIN_CHECKPOINT_FORMAT "text" (default) or "zip": last.pt and best.pt as zip archives laid out as
 *                             torch.save writes them, which the agent can check for completeness
 *   STANDIN_ON_STOP           "empty" or "half": on SIGTERM, first leave last.pt as a save cut short
 *                             leaves it (journalled as "stopped-mid-save"): emptied (ultralytics'
 *                             write_bytes has truncated it and not yet written) or holding the first
 *                             half of the checkpoint of the epoch in progress
 *   STANDIN_START_OVER        1: given a checkpoint, train from epoch 1 anyway (as a trainer that could
 *                             not use it), so its first checkpoints are older than the run's durable one
 *   STANDIN_ONNX_BYTES        size of best.onnx (default 4096 bytes and a header line)
 *   STANDIN_FINAL_MS          time the final evaluation and ONNX export take after the last epoch (default 0)
 *   STANDIN_RESAVE_LAST       1: after that, save last.pt once more with the same bytes (a new mtime,
 *                             same content: a final rewrite that changes nothing), journalled as "final-save"
 *   STANDIN_METRIC_CURVE      JSON object {"<metric name>": [value after overall epoch 1, 2, …]}: these values
 *                             replace the default curve's in the progress lines and result.json's metrics (a null is written as null,
 *                             as the trainer writes a NaN, so the agent finds the metric missing); epochs
 *                             past the end of an array keep the default value
 *   STANDIN_BEST_UNTIL        the overall epoch (1-based, over all phases) after which fitness stops
 *                             improving: best.pt is rewritten only up to it (journalled as "best"), as
 *                             ultralytics saves best.pt only when fitness improved (default: every epoch)
 *
 * Checkpoint format (see standInCheckpoint.ts): one JSON header line, then filler bytes derived
 * from (phase, epoch), so a test can tell exactly which checkpoint an object or a resume was. In the
 * zip format the header is the archive's first entry and the filler its second.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

const MAGIC = "YOLO-TRAIN-STANDIN-CHECKPOINT";
const env = process.env;
const logPath = env.STANDIN_LOG || "";

function now() {
  return Date.now();
}

function journal(event, fields) {
  if (!logPath) return;
  fs.appendFileSync(logPath, JSON.stringify({ event, pid: process.pid, at: now(), ...fields }) + "\n");
}

function intEnv(name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${raw}`);
  return n;
}

function fail(message, code) {
  process.stderr.write(`stand-in trainer: ${message}\n`);
  journal("exit", { code, reason: message });
  process.exit(code);
}

function previousStarts() {
  if (!logPath || !fs.existsSync(logPath)) return 0;
  return fs
    .readFileSync(logPath, "utf8")
    .split("\n")
    .filter((line) => line.includes('"event":"start"')).length;
}

function setGpu(percent, gpus) {
  if (!env.STANDIN_GPU_FILE) return;
  fs.writeFileSync(env.STANDIN_GPU_FILE, `${percent}\n`.repeat(gpus));
}

function sha256(buffer) {
  return crypto.createHash("sha256").update(buffer).digest("hex");
}

/** A checkpoint whose bytes depend only on (kind, runId, phase, epoch): AES-CTR keystream, fast even at hundreds of MiB. */
function checkpointBytes(kind, runId, phase, epoch, size) {
  const header = Buffer.from(JSON.stringify({ magic: MAGIC, kind, runId, phase, epoch }) + "\n");
  const seed = crypto.createHash("sha256").update(`${kind}/${runId}/${phase}/${epoch}`).digest();
  const cipher = crypto.createCipheriv("aes-128-ctr", seed.subarray(0, 16), seed.subarray(16, 32));
  const body = cipher.update(Buffer.alloc(Math.max(0, size - header.length)));
  if ((env.STANDIN_CHECKPOINT_FORMAT || "text") === "zip") return zipArchive([["checkpoint/header.json", header], ["checkpoint/data/0", body]]);
  return Buffer.concat([header, body]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i += 1) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A stored zip as torch.save lays one out: the entries, the central directory, the zip64 end record and locator, the end record. */
function zipArchive(entries) {
  const parts = [];
  const directory = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(45, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, data);
    directory.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directoryBytes = Buffer.concat(directory);
  const zip64 = Buffer.alloc(56);
  zip64.writeUInt32LE(0x06064b50, 0);
  zip64.writeBigUInt64LE(44n, 4);
  zip64.writeUInt16LE(45, 12);
  zip64.writeUInt16LE(45, 14);
  zip64.writeBigUInt64LE(BigInt(entries.length), 24);
  zip64.writeBigUInt64LE(BigInt(entries.length), 32);
  zip64.writeBigUInt64LE(BigInt(directoryBytes.length), 40);
  zip64.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset + directoryBytes.length), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directoryBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directoryBytes, zip64, locator, end]);
}

/** The header of a stand-in checkpoint in either format (the zip's first entry holds it). */
function headerText(bytes) {
  if (bytes.readUInt32LE(0) === 0x04034b50) {
    const data = 30 + bytes.readUInt16LE(26) + bytes.readUInt16LE(28);
    return bytes.subarray(data, data + bytes.readUInt32LE(18)).toString("utf8");
  }
  return bytes.subarray(0, bytes.indexOf(10)).toString("utf8");
}

function readCheckpointHeader(file) {
  const bytes = fs.readFileSync(file);
  const { magic, ...header } = JSON.parse(headerText(bytes));
  if (magic !== MAGIC) throw new Error(`${file} is not a stand-in checkpoint`);
  return { header, sha256: sha256(bytes), bytes: bytes.length };
}

/** Deterministic metrics that improve with the overall epoch number, or follow STANDIN_METRIC_CURVE where it gives a value. */
function metricsAt(overallEpoch) {
  const progress = 1 - 1 / (1 + overallEpoch / 4);
  const round = (x) => Math.round(x * 1e5) / 1e5;
  const metrics = {
    "metrics/precision(B)": round(0.3 + 0.6 * progress),
    "metrics/recall(B)": round(0.25 + 0.6 * progress),
    "metrics/mAP50(B)": round(0.2 + 0.7 * progress),
    "metrics/mAP50-95(B)": round(0.1 + 0.5 * progress),
  };
  // The progress lines and result.json's final evaluation alike: a sweep's winner is judged on the latter.
  if (env.STANDIN_METRIC_CURVE) {
    for (const [name, values] of Object.entries(JSON.parse(env.STANDIN_METRIC_CURVE))) {
      if (Array.isArray(values) && overallEpoch - 1 < values.length) metrics[name] = values[overallEpoch - 1];
    }
  }
  return {
    metrics,
    losses: {
      "train/box_loss": round(1.6 - progress),
      "train/cls_loss": round(2.4 - 1.5 * progress),
      "train/dfl_loss": round(1.3 - 0.4 * progress),
    },
  };
}

/** The run cache's files (docs/node-runtime.md, "Weights and label caches"): kept when present, as ultralytics would. */
function writeCacheFiles(workdir) {
  const scratch = env.YOLO_TRAIN_SCRATCH || "/scratch";
  const files = {
    weights: { path: path.join(scratch, "weights", "yolo11n.pt"), bytes: 200_000 },
    labels: { path: path.join(workdir, "label-cache", "train.cache"), bytes: 120_000 },
  };
  const existed = {};
  const sha = {};
  for (const [kind, file] of Object.entries(files)) {
    existed[kind] = fs.existsSync(file.path);
    if (!existed[kind]) {
      fs.mkdirSync(path.dirname(file.path), { recursive: true });
      fs.writeFileSync(file.path, checkpointBytes(`cache-${kind}`, "any-run", 0, 0, file.bytes));
    }
    sha[kind] = sha256(fs.readFileSync(file.path));
  }
  journal("cache-files", { existed, sha256: sha });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The numbers docker/train.py's check reports, for a passing or a failing comparison (docs/node-runtime.md). */
const ONNX_CHECKS = {
  pass: { passed: true, maxAbsDiff: 0.00012, detections: { pytorch: 37, onnx: 37, matched: 37 } },
  fail: {
    passed: false,
    maxAbsDiff: 0.8,
    detections: { pytorch: 37, onnx: 12, matched: 10 },
    reason: "ONNX output differs from PyTorch: max |Δ| 0.8 > tolerance 0.001 on 4 images",
  },
};

/** result.json's `onnxExport` for STANDIN_ONNX_CHECK, or undefined for "missing". */
function onnxExport(imgsz) {
  const mode = env.STANDIN_ONNX_CHECK || "pass";
  if (mode === "missing") return undefined;
  if (mode !== "pass" && mode !== "fail" && mode !== "malformed") throw new Error(`STANDIN_ONNX_CHECK must be pass, fail, missing or malformed, got ${mode}`);
  const { passed, maxAbsDiff, detections, reason } = ONNX_CHECKS[mode === "fail" ? "fail" : "pass"];
  return {
    opset: mode === "malformed" ? "17" : 17,
    inputShape: [1, 3, imgsz, imgsz],
    outputShape: [1, 84, Math.round((imgsz / 8) ** 2 + (imgsz / 16) ** 2 + (imgsz / 32) ** 2)],
    simplified: true,
    nms: false,
    check: { passed, runtime: "onnxruntime", runtimeVersion: "1.20.1", images: 4, maxAbsDiff, tolerance: 0.001, detections, ...(reason ? { reason } : {}) },
  };
}

async function main() {
  const specPath = env.YOLO_TRAIN_RUN_SPEC;
  const workdir = env.YOLO_TRAIN_WORKDIR;
  if (!specPath) fail("YOLO_TRAIN_RUN_SPEC is not set", 2);
  if (!workdir) fail("YOLO_TRAIN_WORKDIR is not set", 2);
  const spec = JSON.parse(fs.readFileSync(specPath, "utf8"));
  const phases = spec.train.progressive ?? [{ imgsz: spec.train.imgsz, epochs: spec.train.epochs }];
  const gpus = spec.train.gpus ?? 1;
  const epochMs = intEnv("STANDIN_EPOCH_MS", 200);
  const size = intEnv("STANDIN_CHECKPOINT_BYTES", 300_000);
  const bestUntil = intEnv("STANDIN_BEST_UNTIL", 0);
  const attempt = previousStarts() + 1;
  const crashAt = intEnv("STANDIN_CRASH_AT_EPOCH", 0);
  const crashAttempts = intEnv("STANDIN_CRASH_ATTEMPTS", Number.MAX_SAFE_INTEGER);
  const hangAt = intEnv("STANDIN_HANG_AT_EPOCH", 0);
  const onStop = env.STANDIN_ON_STOP || "";
  if (!["", "empty", "half"].includes(onStop)) throw new Error(`STANDIN_ON_STOP must be empty or half, got ${onStop}`);
  if (!["text", "zip"].includes(env.STANDIN_CHECKPOINT_FORMAT || "text")) throw new Error(`STANDIN_CHECKPOINT_FORMAT must be text or zip, got ${env.STANDIN_CHECKPOINT_FORMAT}`);
  const startedAt = now();
  /** Epochs of the phases before `phase`: epoch numbers counted over all phases. */
  const overallBefore = (phase) => phases.slice(0, phase).reduce((sum, p) => sum + p.epochs, 0);

  const resume = env.YOLO_TRAIN_RESUME || "";
  const resumePhaseRaw = env.YOLO_TRAIN_RESUME_PHASE;
  let resumed = null;
  if (resume) {
    if (!fs.existsSync(resume)) fail(`YOLO_TRAIN_RESUME names a missing file: ${resume}`, 3);
    resumed = readCheckpointHeader(resume);
    if (String(resumed.header.phase) !== String(resumePhaseRaw ?? "")) {
      fail(`YOLO_TRAIN_RESUME_PHASE=${resumePhaseRaw} but the checkpoint belongs to phase ${resumed.header.phase}`, 3);
    }
  }
  journal("start", {
    attempt,
    workdir,
    runId: spec.runId,
    resume: resume || null,
    resumePhase: resumePhaseRaw ?? null,
    resumedFrom: resumed ? { ...resumed.header, sha256: resumed.sha256, bytes: resumed.bytes } : null,
    argv: process.argv.slice(2),
  });
  if (env.STANDIN_WRITE_CACHE_FILES === "1") writeCacheFiles(workdir);

  /** The epoch being trained: its checkpoint is the one a save cut short by a stop was writing. */
  let inProgress = null;
  /** STANDIN_ON_STOP: last.pt as ultralytics leaves it when the process dies while saving. */
  function leaveSaveCutShort() {
    if (!onStop || inProgress === null) return;
    const file = path.join(inProgress.weights, "last.pt");
    const next = checkpointBytes("last", spec.runId, inProgress.phase, inProgress.epoch, size);
    const bytes = onStop === "empty" ? Buffer.alloc(0) : next.subarray(0, Math.floor(next.length / 2));
    fs.writeFileSync(file, bytes);
    journal("stopped-mid-save", { phase: inProgress.phase, epoch: inProgress.epoch, path: file, bytes: bytes.length });
  }

  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      journal("signal", { signal });
      leaveSaveCutShort();
      setGpu(0, gpus);
      journal("exit", { code: 143, reason: signal });
      process.exit(143);
    });
  }

  // Where to start: after the resumed checkpoint's epoch, in its phase.
  let startPhase = 0;
  let startEpoch = 1;
  if (resumed && env.STANDIN_START_OVER === "1") {
    journal("starting-over", { resumedFrom: resumed.header });
  } else if (resumed) {
    startPhase = resumed.header.phase;
    startEpoch = resumed.header.epoch + 1;
    const lastPhase = phases.length - 1;
    if (startPhase === lastPhase && startEpoch > phases[lastPhase].epochs) {
      // ultralytics refuses to resume a finished run; the wrapper reports it instead.
      await finish("already-complete", startPhase, phases[lastPhase].epochs, resume);
      return;
    }
    if (startEpoch > phases[startPhase].epochs) {
      startPhase += 1;
      startEpoch = 1;
    }
  }

  setGpu(0, gpus);
  const startupMs = intEnv("STANDIN_STARTUP_MS", 0);
  if (startupMs > 0) await sleep(startupMs);

  let last = null;
  for (let phase = startPhase; phase < phases.length; phase += 1) {
    const weights = path.join(workdir, `phase-${phase}`, "weights");
    fs.mkdirSync(weights, { recursive: true });
    const epochs = phases[phase].epochs;
    for (let epoch = phase === startPhase ? startEpoch : 1; epoch <= epochs; epoch += 1) {
      const overall = overallBefore(phase) + epoch;
      setGpu(97, gpus);
      inProgress = { phase, epoch, weights };
      journal("epoch-start", { phase, epoch, overall });
      if (crashAt === overall && attempt <= crashAttempts) {
        await sleep(Math.floor(epochMs / 2));
        setGpu(0, gpus);
        const code = intEnv("STANDIN_CRASH_CODE", 1);
        process.stderr.write(`stand-in trainer: simulated crash in epoch ${epoch} (CUDA error: an illegal memory access was encountered)\n`);
        journal("exit", { code, reason: "crash", phase, epoch });
        process.exit(code);
      }
      if (hangAt === overall) {
        setGpu(0, gpus);
        journal("hang", { phase, epoch });
        // Keep the process alive, writing nothing, until the agent stops it.
        setInterval(() => undefined, 60_000);
        await new Promise(() => undefined);
      }
      await sleep(epochMs);
      const lastPt = checkpointBytes("last", spec.runId, phase, epoch, size);
      const lastSha = sha256(lastPt);
      fs.writeFileSync(path.join(weights, "last.pt"), lastPt);
      journal("checkpoint", { phase, epoch, overall, path: path.join(weights, "last.pt"), sha256: lastSha, bytes: lastPt.length });
      if (bestUntil === 0 || overall <= bestUntil) {
        fs.writeFileSync(path.join(weights, "best.pt"), checkpointBytes("best", spec.runId, phase, epoch, size));
        journal("best", { phase, epoch, overall });
      }
      const { metrics, losses } = metricsAt(overall);
      const line = {
        type: "epoch",
        phase,
        phases: phases.length,
        epoch,
        epochs,
        metrics,
        losses,
        imagesPerSecond: 100 + overall,
        time: new Date().toISOString(),
      };
      fs.appendFileSync(path.join(workdir, "progress.jsonl"), JSON.stringify(line) + "\n");
      last = { phase, epoch };
    }
  }
  await finish("completed", last.phase, last.epoch, null);

  async function finish(status, phase, epoch, resumedFile) {
    const weights = path.join(workdir, `phase-${phase}`, "weights");
    fs.mkdirSync(weights, { recursive: true });
    const best = path.join(weights, "best.pt");
    if (resumedFile && !fs.existsSync(best)) fs.copyFileSync(resumedFile, best);
    const finalMs = intEnv("STANDIN_FINAL_MS", 0);
    if (finalMs > 0) await sleep(finalMs);
    const lastPt = path.join(weights, "last.pt");
    if (env.STANDIN_RESAVE_LAST === "1" && fs.existsSync(lastPt)) {
      const bytes = fs.readFileSync(lastPt);
      fs.writeFileSync(lastPt, bytes);
      journal("final-save", { phase, epoch, path: lastPt, sha256: sha256(bytes), bytes: bytes.length });
    }
    const onnx = path.join(weights, "best.onnx");
    const onnxHeader = Buffer.from(`ONNX stand-in for ${spec.runId} phase ${phase} epoch ${epoch}\n`);
    fs.writeFileSync(onnx, Buffer.concat([onnxHeader, Buffer.alloc(Math.max(0, intEnv("STANDIN_ONNX_BYTES", onnxHeader.length + 4096) - onnxHeader.length), 1)]));
    const overall = overallBefore(phase) + epoch;
    const result = {
      status,
      best,
      onnx,
      metrics: metricsAt(overall).metrics,
      trainingSeconds: Math.round((now() - startedAt) / 10) / 100,
      onnxExport: onnxExport(phases[phase].imgsz),
    };
    fs.writeFileSync(path.join(workdir, "result.json"), JSON.stringify(result, null, 2));
    setGpu(0, gpus);
    journal("exit", { code: 0, reason: status, phase, epoch });
    process.exit(0);
  }
}

main().catch((error) => fail(String(error && error.stack ? error.stack : error), 1));
