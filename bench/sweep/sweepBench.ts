/**
 * `npm run bench:sweep`: what early stopping saves a sweep, in simulation (issue 12, "Measure it").
 *
 * Sweeps on 4 spot GPUs at once, in simulated time, with Poisson spot interruptions, under three
 * policies: ASHA as built (runspec/sweep/asha.ts's decideAtRung, entries appended in the order
 * trials reach a rung), every trial run to the end, and random stopping calibrated to ASHA's
 * expected promotions per rung; plus run-everything again on the same curves with fresh noise,
 * the noise floor (how often two complete runs agree on the winner at all). Curve families: the
 * synthetic ones of learningCurves.ts (27 trials, 81 epochs) and the real curves recorded by
 * recordCurves.py (bench/sweep/curves/*.json: tiny CPU runs on a synthetic shapes dataset),
 * replayed with fresh noise per seed. Per family and rung setting: GPU-hours, $, cost ratio, winner
 * agreement (exact and within the noise), regret, and a verdict against the issue's target.
 * Figures only: nothing here passes or fails.
 *
 * Flags: --seeds N (20), --json, --trials N (27, synthetic families), --parallel N (4),
 * --min-epochs 1,3 (both), --eta N (3), --interruptions-per-gpu-hour X (0.1), --images N (10000:
 * training images per epoch, which sets an epoch's cost against the fixed start-up of every instance),
 * --curves FILE,… (every bench/sweep/curves/*.json), --no-settings-grid (skip the table of ASHA at
 * minEpochs 1/3/9 × η 2/3/4), --rung-value epoch|best|mean3|all (epoch: the value a trial records
 * at a rung, see rungValue.ts; all: every block under each, the summaries side by side with the
 * true best's survival per rung), --recorded-noise-correlation X (0: how much the recorded family's
 * replay noise carries from one epoch to the next, AR(1); the reruns' own figure is printed with
 * the curves).
 */
import { readdirSync } from "fs";
import os from "os";
import path from "path";
import { priceOf, PRICE_SNAPSHOT } from "../../catalog/prices";
import { FINISH_HOURS, STARTUP_HOURS } from "../../catalog/trainingTime";
import { CURVE_FAMILIES, SEARCH_SPACE } from "./learningCurves";
import { loadCurveFile, rerunSpread, SPREAD_WINDOW, type CurveFile } from "./recordedCurves";
import { parseRungValueRule, RUNG_VALUE_RULES, type RungValueRule } from "./rungValue";
import { recordedFamily, runBlock, syntheticFamily, TARGET_COST_RATIO, type BlockSummary, type ExperimentOptions, type Quantiles, type RowName, type SweepFamily } from "./sweepExperiment";

const INSTANCE_TYPE = "g5.xlarge";
const REGION = "us-east-1";
const GPU = "a10g" as const;
/** Training images per epoch by default: with a yolov8n on an A10G an epoch is ~40 s, so a 15-min start-up weighs ~22 epochs. */
const DEFAULT_IMAGES = 10_000;
const SYNTHETIC_MAX_EPOCHS = 81;
const CURVES_DIR = path.join(__dirname, "curves");
/** The per-epoch noise assumed for recorded curves when the file holds no rerun of any configuration. */
const ASSUMED_RECORDED_NOISE = 0.005;

/** A bad command line: said in one line, without a stack. */
class UsageError extends Error {}

interface Flags {
  readonly seeds: number;
  readonly json: boolean;
  readonly trials: number;
  readonly parallel: number;
  readonly minEpochs: readonly number[];
  readonly eta: number;
  readonly interruptionsPerGpuHour: number;
  /** Training images per epoch: the epoch cost of every trial. */
  readonly images: number;
  readonly curves: readonly string[];
  readonly settingsGrid: boolean;
  /** What ASHA's trials record at a rung; every block runs under each. */
  readonly rungValues: readonly RungValueRule[];
  readonly recordedNoiseCorrelation: number;
}

/** The settings the grid tries: Li et al. use η 3 or 4; minEpochs 9 puts the first rung past the curves' early wobble. */
const SETTINGS_GRID = { minEpochs: [1, 3, 9], eta: [2, 3, 4] } as const;

function parseFlags(argv: readonly string[]): Flags {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${name} needs a value`);
    return v;
  };
  const whole = (name: string, fallback: number, min = 1): number => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be a whole number ≥ ${min}, got "${v}"`);
    return n;
  };
  const known = new Set(["--seeds", "--json", "--trials", "--parallel", "--min-epochs", "--eta", "--interruptions-per-gpu-hour", "--images", "--curves", "--no-settings-grid", "--rung-value", "--recorded-noise-correlation"]);
  const unknown = argv.filter((a) => a.startsWith("--") && !known.has(a));
  if (unknown.length > 0) throw new UsageError(`unknown flag ${unknown.join(", ")}; known: ${[...known].join(", ")}`);
  const rate = value("--interruptions-per-gpu-hour");
  const interruptionsPerGpuHour = rate === undefined ? 0.1 : Number(rate);
  if (!(interruptionsPerGpuHour >= 0) || !Number.isFinite(interruptionsPerGpuHour)) throw new UsageError(`--interruptions-per-gpu-hour must be a number ≥ 0, got "${rate}"`);
  const minEpochs = (value("--min-epochs") ?? "1,3").split(",").map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--min-epochs takes whole numbers ≥ 1, comma-separated, got "${v}"`);
    return n;
  });
  const rungValueFlag = value("--rung-value") ?? "epoch";
  let rungValues: readonly RungValueRule[];
  try {
    rungValues = rungValueFlag === "all" ? RUNG_VALUE_RULES : [parseRungValueRule(rungValueFlag)];
  } catch {
    throw new UsageError(`--rung-value takes ${RUNG_VALUE_RULES.join(", ")} or all, got "${rungValueFlag}"`);
  }
  const correlationFlag = value("--recorded-noise-correlation");
  const recordedNoiseCorrelation = correlationFlag === undefined ? 0 : Number(correlationFlag);
  if (!(recordedNoiseCorrelation >= 0 && recordedNoiseCorrelation < 1)) throw new UsageError(`--recorded-noise-correlation must be a number in [0, 1), got "${correlationFlag}"`);
  const curvesFlag = value("--curves");
  const curves = curvesFlag !== undefined ? curvesFlag.split(",") : readdirSync(CURVES_DIR).filter((f) => f.endsWith(".json")).sort().map((f) => path.join(CURVES_DIR, f));
  return {
    seeds: whole("--seeds", 20),
    json: argv.includes("--json"),
    trials: whole("--trials", 27),
    parallel: whole("--parallel", 4),
    minEpochs,
    eta: whole("--eta", 3, 2),
    interruptionsPerGpuHour,
    images: whole("--images", DEFAULT_IMAGES),
    curves,
    settingsGrid: !argv.includes("--no-settings-grid"),
    rungValues,
    recordedNoiseCorrelation,
  };
}

const fixed = (digits: number) => (x: number): string => (Number.isNaN(x) ? "–" : x.toFixed(digits));
const spread = (q: Quantiles, format: (x: number) => string): string => (q.n === 0 ? "–" : `${format(q.median)} (${format(q.p10)}–${format(q.p90)})`);
/** mAP50-95 as points (0.012 → 1.2). */
const points = (x: number): string => (Number.isNaN(x) ? "–" : (x * 100).toFixed(2));

function table(title: string, head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [`\n${title}`, line(head), `|${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...rows.map(line)].join("\n");
}

const ROW_LABEL: Readonly<Record<RowName, string>> = {
  asha: "ASHA (decideAtRung as built)",
  full: "run all to the end",
  random: "random stopping (calibrated)",
  fullRerun: "run all again, fresh noise (floor)",
};

/** How blocks are named and summarized: with the rung value (and the true best's survival per rung) when the run compares rules. */
interface Printing {
  readonly showRungValue: boolean;
}

const blockName = (b: BlockSummary, p: Printing): string =>
  `${b.family.name}, minEpochs ${b.minEpochs}, η ${b.reductionFactor}${p.showRungValue ? `, rung value ${b.rungValue}` : ""}`;

function verdict(block: BlockSummary, p: Printing): string {
  const n = block.seeds.length;
  const asha = block.rows.find((r) => r.row === "asha")!;
  const floor = block.rows.find((r) => r.row === "fullRerun")!;
  return (
    `verdict (${blockName(block, p)}): ${block.meetsTarget ? "MEETS" : "MISSES"} the target "ASHA ≤ 1/3 of run-all's cost with the same winner in most seeds" ` +
    `(cost ratio median ${asha.costRatio.median.toFixed(3)}, ≤ 1/3 in ${block.seedsCheapEnough}/${n}; same winner ${asha.sameWinner}/${n}; both ${asha.meetingTarget}/${n}); ` +
    `reading "same" as within the noise (${points(block.family.noise)} pt): ${block.meetsTargetWithinNoise ? "MEETS" : "MISSES"} (${asha.meetingTargetWithinNoise}/${n}). ` +
    `Noise floor: two run-alls agree on the winner in ${floor.sameWinner}/${n} seeds.`
  );
}

function reportBlock(block: BlockSummary, p: Printing): string {
  const n = block.seeds.length;
  const out: string[] = [];
  out.push(`\n=== ${blockName(block, p)}: rungs at epochs ${block.rungEpochs.join(", ")}, the end at ${block.maxEpochs} ===`);
  out.push(`curves: ${block.family.description}`);
  out.push(
    `how misleading early ranks are (share of trial pairs ordered differently by true metric than at the end, median): ` +
      block.rungEpochs.map((e, k) => `epoch ${e}: ${(block.rankDisagreement[k]!.median * 100).toFixed(0)} %`).join(", "),
  );
  out.push(
    `how close the race is: best − second-best true final metric, median ${points(block.topGap.median)} pt (p10 ${points(block.topGap.p10)}, p90 ${points(block.topGap.p90)}) ` +
      `against one observation's noise sd ${points(block.family.noise)} pt; the true best trial survived ASHA's rungs in ` +
      block.rungEpochs.map((e, k) => `${block.bestSurvivedRung[k]}/${n} (epoch ${e})`).join(", "),
  );
  const rows = block.rows.map((r) => [
    ROW_LABEL[r.row],
    spread(r.gpuHours, fixed(1)),
    spread(r.usd, fixed(2)),
    spread(r.costRatio, fixed(3)),
    `${r.sameWinner}/${n}`,
    `${r.sameWithinNoise}/${n}`,
    points(r.regret.mean),
    points(r.regret.max),
    spread(r.completed, fixed(0)),
    spread(r.interruptions, fixed(0)),
  ]);
  out.push(
    table(
      `median (p10–p90) over ${n} seeds; regret in mAP50-95 points (best true final of all trials − the winner's)`,
      ["row", "GPU-hours", "$", "cost / run-all", "same winner", "within noise", "mean regret", "max regret", "completed", "interruptions"],
      rows,
    ),
  );
  const asha = block.rows.find((r) => r.row === "asha")!;
  const full = block.rows.find((r) => r.row === "full")!;
  out.push(
    `where the cost goes: start-ups and finishes are ${fixed(0)(full.fixedShare.median * 100)} % of run-all's GPU-hours and ${fixed(0)(asha.fixedShare.median * 100)} % of ASHA's ` +
      `(every trial starts: no stopping rule saves that); the epochs alone cost ASHA ${spread(asha.epochCostRatio, fixed(3))} of run-all's.`,
  );
  const continued = block.rungEpochs.map((e, k) => {
    const q = block.seeds.map((x) => x.randomContinueProbability[k]!).sort((a, b) => a - b);
    return `epoch ${e}: ${(q[Math.floor((q.length - 1) / 2)]! * 100).toFixed(0)} %`;
  });
  out.push(
    `share of the trials reaching a rung that ASHA let continue (median; 1/η = ${(100 / block.reductionFactor).toFixed(0)} % in synchronous halving, more here ` +
      `because a trial is judged only against those that reached the rung before it): ${continued.join(", ")}`,
  );
  out.push(
    `ASHA vs random stopping (about the same expected promotions): ASHA's regret lower in ${block.ashaVsRandom.better}/${n} seeds, ` +
      `equal in ${block.ashaVsRandom.equal}/${n}, higher in ${n - block.ashaVsRandom.better - block.ashaVsRandom.equal}/${n}.`,
  );
  out.push(verdict(block, p));
  return out.join("\n");
}

function summaryTable(blocks: readonly BlockSummary[], p: Printing): string {
  const rows = blocks.map((b) => {
    const n = b.seeds.length;
    const row = (name: RowName) => b.rows.find((r) => r.row === name)!;
    return [
      blockName(b, p),
      fixed(3)(row("asha").costRatio.median),
      fixed(3)(row("asha").epochCostRatio.median),
      `${row("asha").sameWinner}/${n}`,
      `${row("asha").sameWithinNoise}/${n}`,
      `${row("random").sameWinner}/${n}`,
      `${row("fullRerun").sameWinner}/${n}`,
      `${row("fullRerun").sameWithinNoise}/${n}`,
      `${points(row("asha").regret.mean)} / ${points(row("asha").regret.max)}`,
      `${points(row("fullRerun").regret.mean)} / ${points(row("fullRerun").regret.max)}`,
      ...(p.showRungValue ? [b.bestSurvivedRung.join(", ")] : []),
      b.meetsTarget ? "met" : "missed",
      b.meetsTargetWithinNoise ? "met" : "missed",
    ];
  });
  const rungValueNote = p.showRungValue
    ? "; best kept = seeds where the true best trial went on past each rung under ASHA; rung value = what a trial records at a rung: " +
      "epoch = the rung epoch's metric (as the agents do), best = the best so far, mean3 = the mean of the last 3 epochs"
    : "";
  return table(
    `Summary (ASHA cost = median ASHA $ / run-all $; epochs only = the same for epoch GPU-hours, start-ups and finishes left out; agreement = seeds whose winner is run-all's; regret mean / max in points${rungValueNote})`,
    [
      ...["family, rungs", "ASHA cost", "epochs only", "ASHA same", "ASHA ≈ noise", "random same", "floor same", "floor ≈ noise", "ASHA regret", "floor regret"],
      ...(p.showRungValue ? ["best kept"] : []),
      ...["target (exact)", "target (≈ noise)"],
    ],
    rows,
  );
}

function main(): void {
  const flags = parseFlags(process.argv.slice(2));
  const printing: Printing = { showRungValue: flags.rungValues.length > 1 || flags.rungValues[0] !== "epoch" };
  const price = priceOf(INSTANCE_TYPE, REGION);
  const usdPerGpuHour = price?.spotMedianUsdPerHour;
  if (usdPerGpuHour === undefined) throw new Error(`the price snapshot has no spot price for ${INSTANCE_TYPE} in ${REGION}`);

  const recordedNotes: string[] = [];
  const recorded: SweepFamily[] = flags.curves.map((file) => {
    let curves: CurveFile;
    try {
      curves = loadCurveFile(file);
    } catch (error) {
      // A missing or malformed recording is the user's to fix: one line naming the file and the fields, no stack.
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    const spread = rerunSpread(curves);
    const noise = spread?.byEpoch ?? ASSUMED_RECORDED_NOISE;
    const noiseSource =
      spread === null
        ? `assumed: the file has no rerun of any configuration`
        : `the sd between ${spread.runs} runs of ${spread.groups} configuration(s) with different seeds at each epoch, smoothed over ±${SPREAD_WINDOW} epochs; ` +
          `${spread.sd.toFixed(4)} pooled over all epochs; a run's deviation from its configuration's mean correlates ${spread.lag1.toFixed(2)} from one epoch to the next`;
    recordedNotes.push(`${path.relative(process.cwd(), file)}: ${curves.note} Dataset ${JSON.stringify(curves.dataset)}; seed ${curves.seed}.`);
    return recordedFamily(curves, { noise, noiseSource, images: flags.images, gpu: GPU, noiseCorrelation: flags.recordedNoiseCorrelation });
  });
  const synthetic = CURVE_FAMILIES.map((f) => syntheticFamily(f, { trials: flags.trials, maxEpochs: SYNTHETIC_MAX_EPOCHS, images: flags.images, gpu: GPU }));
  const options: ExperimentOptions = {
    seeds: flags.seeds,
    families: [...recorded, ...synthetic],
    minEpochsList: flags.minEpochs,
    sweep: {
      reductionFactor: flags.eta,
      maxParallel: flags.parallel,
      interruptionsPerGpuHour: flags.interruptionsPerGpuHour,
      restartWaitHours: 5 / 60,
      startupHours: STARTUP_HOURS,
      finishHours: FINISH_HOURS,
      usdPerGpuHour,
    },
  };
  const s = options.sweep;
  const assumptions = [
    `η ${s.reductionFactor}, metric mAP50-95 maximized, ${s.maxParallel} trials at once (maxParallel), started in trial order as GPUs free up.`,
    ...(printing.showRungValue
      ? [
          `Rung value (what a trial records at a rung, judged by decideAtRung as built): ${flags.rungValues.join(", ")}; epoch = the metric at the rung epoch ` +
            `(what the node agent records), best = the best metric over epochs 1..rung epoch (as ultralytics' best.pt), mean3 = the mean of the last 3 epochs up to the rung epoch.`,
        ]
      : []),
    `Synthetic families: ${flags.trials} trials (random search: model ${SEARCH_SPACE.model.join("/")}, imgsz ${SEARCH_SPACE.imgsz.join("/")}, ` +
      `lr0 log-uniform ${SEARCH_SPACE.lr0.min}–${SEARCH_SPACE.lr0.max}), ${SYNTHETIC_MAX_EPOCHS} epochs, metric(e) = a − b·exp(−e/τ) + noise, ` +
      `fixed in advance (bench/sweep/learningCurves.ts), no LR-decay or close_mosaic effects, no overfitting.`,
    `Recorded families: every recorded configuration is one trial of one sweep, its recorded curve taken as the true curve; each seed adds independent ` +
      `noise at each epoch of the sd reruns with other seeds showed at that epoch (an assumption: a seed really shifts a stretch of trajectory, not each epoch on its own). ` +
      `Epoch cost: a yolov8n epoch at imgsz 640 on ${flags.images.toLocaleString("en-US")} images (the catalog's time model), times (the trial's imgsz / the median trial's)².`,
    `Each trial on one ${INSTANCE_TYPE} (1× A10G) in ${REGION} at the spot median $${usdPerGpuHour}/h (${PRICE_SNAPSHOT.source} @ ${PRICE_SNAPSHOT.commit.slice(0, 7)}; undated snapshot). ` +
      `Epoch time from catalog/trainingTime.ts for ${flags.images.toLocaleString("en-US")} images on an A10G; every instance start bills ${s.startupHours} h, ` +
      `every completed trial ${s.finishHours} h (final validation, export); a trial stopped early tears down at once.`,
    `Spot interruptions: Poisson, ${s.interruptionsPerGpuHour} per GPU-hour of a running instance, drawn per trial (the same under every policy); ` +
      `an interrupted trial loses the epoch in progress, waits ${(s.restartWaitHours * 60).toFixed(0)} min unbilled, pays the start-up again and resumes from its checkpoint with its rung entries.`,
    `Winner: the completed trial with the best observed metric at the last epoch. Regret = best true final metric of all trials − the winner's. ` +
      `"Same winner": the very trial run-all picked; "within noise": a winner whose true final metric is at most one observation's noise sd below run-all's winner's. ` +
      `Random stopping continues at each rung with ASHA's promotions/arrivals there in the same seed. The floor row runs everything again on the same curves with fresh noise.`,
    ...recordedNotes.map((n) => `Recorded curves ${n}`),
  ];

  const blocks: BlockSummary[] = [];
  for (const family of options.families) {
    for (const minEpochs of options.minEpochsList) {
      if (minEpochs >= family.maxEpochs) continue;
      for (const rungValue of flags.rungValues) {
        process.stderr.write(`simulating ${family.name}, minEpochs ${minEpochs}, η ${s.reductionFactor}, rung value ${rungValue}, ${options.seeds} seeds…\n`);
        blocks.push(runBlock({ ...options, sweep: { ...s, rungValue } }, family, minEpochs));
      }
    }
  }

  // ASHA's settings, beside the main blocks: does another minEpochs or η fix the winner, and at what cost?
  const grid: BlockSummary[] = [];
  if (flags.settingsGrid) {
    for (const family of options.families) {
      for (const eta of SETTINGS_GRID.eta) {
        for (const minEpochs of SETTINGS_GRID.minEpochs) {
          if (minEpochs >= family.maxEpochs) continue;
          for (const rungValue of flags.rungValues) {
            process.stderr.write(`settings grid: ${family.name}, minEpochs ${minEpochs}, η ${eta}, rung value ${rungValue}…\n`);
            grid.push(runBlock({ ...options, sweep: { ...s, reductionFactor: eta, rungValue } }, family, minEpochs));
          }
        }
      }
    }
  }

  if (flags.json) {
    const plain = blocks.map(({ family, ...rest }) => ({ family: { ...family, sweep: undefined }, ...rest }));
    process.stdout.write(
      JSON.stringify(
        {
          benchmark: "bench:sweep",
          generatedAt: new Date().toISOString(),
          settings: {
            ...options,
            families: options.families.map((f) => f.name),
            rungValues: flags.rungValues,
            recordedNoiseCorrelation: flags.recordedNoiseCorrelation,
            instanceType: INSTANCE_TYPE,
            region: REGION,
            targetCostRatio: TARGET_COST_RATIO,
          },
          assumptions,
          blocks: plain,
          settingsGrid: grid.map(({ family, seeds: _seeds, ...rest }) => ({ family: family.name, ...rest })),
        },
        null,
        2,
      ) + "\n",
    );
    return;
  }

  const out: string[] = [];
  out.push(`yolo-train sweep simulation (issue 12) — ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, ${flags.seeds} seeds per block`);
  out.push("Simulated time and money; the curves are synthetic or replayed from tiny real CPU runs (not COCO, not a GPU). Nothing here passes or fails.");
  out.push(...assumptions.map((a) => `- ${a}`));
  for (const block of blocks) out.push(reportBlock(block, printing));
  out.push("\n=== summary against issue 12's target ===");
  out.push(summaryTable(blocks, printing));
  out.push("");
  for (const block of blocks) out.push(verdict(block, printing));
  if (grid.length > 0) {
    out.push("\n=== ASHA's settings (the same seeds; rows: family, minEpochs, η) ===");
    out.push(summaryTable(grid, printing));
  }
  process.stdout.write(out.join("\n") + "\n");
}

try {
  main();
} catch (error: unknown) {
  const text = error instanceof UsageError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`bench:sweep failed: ${text}\n`);
  process.exit(1);
}
