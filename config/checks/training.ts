import { EPOCHS } from "../../runspec/limits";
import { DEFAULTS } from "../defaults";
import { checkHyperparameters } from "../hyperparameters";
import type { ProgressivePhase } from "../types";
import type { ConfigProblems, ConfigValues } from "./context";

/** The training arguments: how long, at what size, in what batches, with what further arguments. */
export interface TrainingPart {
  readonly epochs?: number;
  readonly imgsz?: number;
  readonly batch?: number;
  readonly progressive?: readonly ProgressivePhase[];
}

/**
 * `hyperparameters`: further ultralytics train arguments, checked against the known list
 * (config/hyperparameters.ts). Undefined when invalid, or refused as an Output.
 */
export function checkHyperparametersKey(
  values: ConfigValues,
  problems: ConfigProblems,
): Readonly<Record<string, string | number | boolean>> | undefined {
  // Given but left out of the plain values: an Output inside it, already refused.
  if (values.given("hyperparameters") && values.plain.hyperparameters === undefined) return undefined;
  const { value, problems: found } = checkHyperparameters(values.plain.hyperparameters);
  for (const p of found) problems.add({ ...p, value: problems.shown("hyperparameters", [], p.value) });
  return value;
}

/**
 * `epochs`, `imgsz`, `batch` and `progressive`: the phases never shrink, end at the run's imgsz
 * and add up to its epochs (docs/config.md#progressive); a batch splits evenly over the node's GPUs.
 */
export function checkTraining(values: ConfigValues, problems: ConfigProblems, gpusPerNode: number | undefined): TrainingPart {
  const { epochs, imgsz, progressive } = checkTrainingLength(values, problems);
  const batch = values.resolve<number>("batch", DEFAULTS.batch);
  checkBatchOverGpus(problems, batch, gpusPerNode);
  return {
    ...(epochs !== undefined ? { epochs } : {}),
    ...(imgsz !== undefined ? { imgsz } : {}),
    ...(batch !== undefined ? { batch } : {}),
    ...(progressive !== undefined ? { progressive } : {}),
  };
}

function checkTrainingLength(values: ConfigValues, problems: ConfigProblems): { epochs?: number; imgsz?: number; progressive?: readonly ProgressivePhase[] } {
  const phases = values.value<ProgressivePhase[]>("progressive");
  if (phases === undefined) {
    return {
      epochs: values.resolve<number>("epochs", DEFAULTS.epochs),
      imgsz: values.resolve<number>("imgsz", DEFAULTS.imgsz),
    };
  }
  // The run's imgsz is the last phase's; its epochs are the phases' sum (docs/config.md#progressive).
  const last = phases[phases.length - 1]!;
  const sum = phases.reduce((total, p) => total + p.epochs, 0);
  phases.forEach((phase, i) => {
    const before = phases[i - 1];
    if (before !== undefined && phase.imgsz < before.imgsz) {
      problems.add({
        key: `progressive[${i}].imgsz`,
        value: phase.imgsz,
        allowed: `at least ${before.imgsz}, the imgsz of the phase before (phases train small first, then larger)`,
        fix: "order the phases by imgsz, smallest first",
      });
    }
  });
  const imgsz = values.resolve<number>("imgsz", last.imgsz);
  const epochs = values.resolve<number>("epochs", sum);
  if (values.valid("imgsz") && imgsz !== last.imgsz) {
    problems.add({
      key: "progressive",
      value: phases,
      allowed: `phases whose last imgsz is the run's \`imgsz\` (${imgsz}); the last is ${last.imgsz}`,
      fix: `end with a phase at imgsz ${imgsz}, or remove \`imgsz\` (it defaults to the last phase's)`,
    });
  }
  if (values.valid("epochs") && epochs !== sum) {
    problems.add({
      key: "progressive",
      value: phases,
      allowed: `phases whose epochs add up to \`epochs\` (${epochs}); they add up to ${sum}`,
      fix: "remove `epochs` (it defaults to the phases' sum), or change the phases' epochs",
    });
  }
  if (!values.given("epochs") && sum > EPOCHS.max) {
    problems.add({ key: "progressive", value: phases, allowed: `phases of ${EPOCHS.max} epochs in all at most; they add up to ${sum}`, fix: "shorten the phases" });
  }
  return { epochs, imgsz, progressive: phases };
}

/** Ultralytics' DDP check (select_device): batch ≥ 1 and a multiple of the GPU count. */
function checkBatchOverGpus(problems: ConfigProblems, batch: number | undefined, gpusPerNode: number | undefined): void {
  if (batch === undefined || gpusPerNode === undefined || gpusPerNode <= 1) return;
  if (batch < 1) {
    problems.add({
      key: "batch",
      value: batch,
      allowed: `a whole number that is a multiple of ${gpusPerNode} (gpusPerNode): ultralytics has no AutoBatch for multi-GPU (DDP) training`,
      fix: `e.g. ${gpusPerNode * 8}`,
    });
  } else if (batch % gpusPerNode !== 0) {
    const below = Math.floor(batch / gpusPerNode) * gpusPerNode;
    const above = below + gpusPerNode;
    problems.add({
      key: "batch",
      value: batch,
      allowed: `a multiple of ${gpusPerNode} (gpusPerNode): DDP splits every batch evenly over the GPUs`,
      fix: below > 0 ? `e.g. ${below} or ${above}` : `e.g. ${above}`,
    });
  }
}
