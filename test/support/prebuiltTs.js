// Preloaded (`node --require`) into the yolo-train processes the tests start, in place of tsx's
// loader: a `.ts` file that is `require`d runs as the JavaScript test/support/tsBuild.ts wrote for
// it once per test run (esbuild, one file at a time, as tsx transpiles), so no process pays for
// starting tsx and transpiling. The module keeps its own path (`__dirname`, `__filename`,
// `require.main === module`, relative requires and files read next to it, as under tsx), and the
// program runs in this very process (no wrapper process, as with `node --import tsx`).
//
// A file without a fresh prebuilt copy (added or edited after the build, or outside the built
// folders) is transpiled here with esbuild, as tsx would.
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");

const ROOT = path.resolve(__dirname, "..", "..");
const OUT = path.join(ROOT, "dist-test", "ts");

function prebuilt(filename) {
  const relative = path.relative(ROOT, filename);
  if (relative.startsWith("..") || path.isAbsolute(relative) || relative.startsWith(`node_modules${path.sep}`)) return undefined;
  const out = path.join(OUT, relative.replace(/\.ts$/, ".js"));
  try {
    return fs.statSync(out).mtimeMs >= fs.statSync(filename).mtimeMs ? fs.readFileSync(out, "utf8") : undefined;
  } catch {
    return undefined;
  }
}

function transpiled(filename) {
  const esbuild = require(path.join(ROOT, "node_modules", "esbuild"));
  return esbuild.transformSync(fs.readFileSync(filename, "utf8"), {
    loader: "ts",
    format: "cjs",
    platform: "node",
    target: "node20",
    // import() as require(), as tsc (module: commonjs) and tsx compile it: the ESM loader knows no .ts.
    supported: { "dynamic-import": false },
    sourcefile: filename,
  }).code;
}

Module._extensions[".ts"] = function loadTs(module, filename) {
  module._compile(prebuilt(filename) ?? transpiled(filename), filename);
};
