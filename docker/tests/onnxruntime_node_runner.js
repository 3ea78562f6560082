#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime through the npm package onnxruntime-node, for tests only.
//
// Why this exists: docker/trainer/onnx_check.py runs the exported model with the Python package
// onnxruntime, which the training image has but CI cannot install (Debian packages no
// onnxruntime and PyPI is unreachable). onnxruntime-node@1.20.1 carries the same ONNX Runtime
// 1.20.1 engine that docker/requirements.txt pins for Python, with its Linux x64 binaries inside
// the npm tarball, so the tests point YOLO_TRAIN_ONNX_RUNNER at `node <this file>`.
//
// Usage: node onnxruntime_node_runner.js <request.json>
// request.json (written by onnx_check.py):
//   {"model": "/abs/model.onnx", "response": "/abs/response.json",
//    "runs": [{"inputs": [{"name": "images", "shape": [1, 3, 640, 640], "file": "/abs/run-0-images.f32"}]}]}
// Each input file is raw little-endian float32 in row-major order. The runner writes each output
// the same way next to the response and then the response itself:
//   {"runtime": "onnxruntime", "version": "1.20.1",
//    "runs": [{"outputs": [{"name": "output0", "shape": [1, 84, 8400], "file": "/abs/run-0-output0.f32"}]}]}
// Any failure: a message on stderr and exit status 1, no response file.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const ort = require("onnxruntime-node");

// Typed arrays use the machine's byte order; the files are little-endian by contract.
if (os.endianness() !== "LE") throw new Error("onnxruntime_node_runner.js supports little-endian machines only");

function readFloat32(file, shape) {
  const bytes = fs.readFileSync(file);
  const expected = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== expected * 4) throw new Error(`${file}: ${bytes.length} bytes, expected ${expected} float32 values for shape [${shape}]`);
  // Copied into a fresh, aligned buffer: a Buffer may be a view at an odd offset of a shared pool.
  const values = new Float32Array(expected);
  new Uint8Array(values.buffer).set(bytes);
  return values;
}

function writeFloat32(file, tensor) {
  if (tensor.type !== "float32") throw new Error(`output is ${tensor.type}, only float32 is supported`);
  fs.writeFileSync(file, Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
}

function runtimeVersion() {
  // onnxruntime-node reports its own version; it is the version of the ONNX Runtime it bundles.
  return (ort.env.versions && ort.env.versions.node) || require("onnxruntime-node/package.json").version;
}

async function main(requestPath) {
  const request = JSON.parse(fs.readFileSync(requestPath, "utf8"));
  const outputDir = path.dirname(request.response);
  // The CPU provider: the check compares numbers, and CPU float32 is the reference edge boxes share.
  const session = await ort.InferenceSession.create(request.model, { executionProviders: ["cpu"] });
  const runs = [];
  for (const [index, run] of request.runs.entries()) {
    const feeds = {};
    for (const input of run.inputs) feeds[input.name] = new ort.Tensor("float32", readFloat32(input.file, input.shape), input.shape);
    const results = await session.run(feeds);
    const outputs = session.outputNames.map((name) => {
      const file = path.join(outputDir, `run-${index}-${name.replace(/[^A-Za-z0-9_.-]/g, "_")}.f32`);
      writeFloat32(file, results[name]);
      return { name, shape: Array.from(results[name].dims), file };
    });
    runs.push({ outputs });
  }
  fs.writeFileSync(request.response, JSON.stringify({ runtime: "onnxruntime", version: runtimeVersion(), runs }));
}

const requestPath = process.argv[2];
if (!requestPath) {
  process.stderr.write("usage: node onnxruntime_node_runner.js <request.json>\n");
  process.exit(2);
}
main(requestPath).catch((error) => {
  process.stderr.write(`onnxruntime_node_runner.js: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
