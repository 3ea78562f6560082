import { readFileSync } from "fs";
import { InvalidRunSpecError, parseRunSpec } from "../runspec";

/** Early skeleton: validates the spec; the supervisor is wired in next. */
function main(): number {
  const specPath = process.env.YOLO_TRAIN_RUN_SPEC;
  if (!specPath) {
    console.error("yolo-train agent: YOLO_TRAIN_RUN_SPEC is not set");
    return 64;
  }
  try {
    parseRunSpec(readFileSync(specPath, "utf8"));
  } catch (error) {
    if (error instanceof InvalidRunSpecError) {
      console.error(error.message);
      return 64;
    }
    throw error;
  }
  console.error("yolo-train agent: supervisor not wired yet");
  return 70;
}

process.exitCode = main();
