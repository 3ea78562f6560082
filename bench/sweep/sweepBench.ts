/**
 * `npm run bench:sweep`: what early stopping saves a sweep, in simulation (issue 12, "Measure it").
 *
 * Sweeps of 27 trials (random search over model, imgsz, lr0) on 4 spot GPUs at once, in simulated
 * time, with Poisson spot interruptions, under three policies: ASHA as built (runspec/sweep/asha.ts's
 * decideAtRung, entries appended in the order trials reach a rung), every trial run to the end,
 * and random stopping calibrated to ASHA's expected promotions per rung. Per policy over seeds:
 * GPU-hours, $, the winner's true final metric and regret; then ASHA/full ratios and a verdict
 * against the issue's target. The curves are synthetic (learningCurves.ts says why: no real ones
 * are stored). Figures only: nothing here passes or fails.
 *
 * Flags: --seeds N (20), --json, --trials N (27), --parallel N (4), --min-epochs 1,3 (both),
 * --interruptions-per-gpu-hour X (0.1).
 */
import os from "os";
import { priceOf, PRICE_SNAPSHOT } from "../../catalog/prices";
import { FINISH_HOURS, STARTUP_HOURS } from "../../catalog/trainingTime";
import { CURVE_FAMILIES, REAL_CURVES_NOTE, SEARCH_SPACE } from "./learningCurves";
import { REGRET_TOLERANCE, runBlock, TARGET_COST_RATIO, type BlockSummary, type ExperimentOptions, type Quantiles } from "./sweepExperiment";

const INSTANCE_TYPE = "g5.xlarge";
const REGION = "us-east-1";
const GPU = "a10g" as const;
const IMAGES = 10_000;

/** A bad command line: said in one line, without a stack. */
class UsageError extends Error {}

interface Flags {
  readonly seeds: number;
  readonly json: boolean;
  readonly trials: number;
  readonly parallel: number;
  readonly minEpochs: readonly number[];
  readonly interruptionsPerGpuHour: number;
}

function parseFlags(argv: readonly string[]): Flags {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${name} needs a value`);
    return v;
  };
  const whole = (name: string, fallback: number): number => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a whole number ≥ 1, got "${v}"`);
    return n;
  };
  const known = new Set(["--seeds", "--json", "--trials", "--parallel", "--min-epochs", "--interruptions-per-gpu-hour"]);
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
  return {
    seeds: whole("--seeds", 20),
    json: argv.includes("--json"),
    trials: whole("--trials", 27),
    parallel: whole("--parallel", 4),
    minEpochs,
    interruptionsPerGpuHour,
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;
const fixed = (digits: number) => (x: number): string => (Number.isNaN(x) ? "–" : x.toFixed(digits));
const spread = (q: Quantiles, format: (x: number) => string): string => (q.n === 0 ? "–" : `${format(q.median)} (${format(q.p10)}–${format(q.p90)})`);

function table(title: string, head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [`\n${title}`, line(head), `|${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...rows.map(line)].join("\n");
}

const POLICY_LABEL = { full: "full (every trial to the end)", asha: "ASHA (decideAtRung as built)", random: "random stopping (calibrated)" } as const;

function verdict(block: BlockSummary): string {
  const n = block.seeds.length;
  const { ashaVsFullUsd } = block.ratios;
  return (
    `verdict (${block.family.name}, minEpochs ${block.minEpochs}): ${block.meetsTarget ? "MEETS" : "MISSES"} the target ` +
    `"ASHA costs ≤ 1/3 of running everything, with the same winner, in most seeds": ASHA/full $ median ${ashaVsFullUsd.median.toFixed(3)}; ` +
    `≤ 1/3 in ${block.seedsCheapEnough}/${n} seeds, same winner in ${block.ashaSameWinner}/${n}, both in ${block.seedsMeetingTarget}/${n} (most = more than ${Math.floor(n / 2)}); ` +
    `counting a winner within ${REGRET_TOLERANCE} regret as good: ${block.seedsMeetingTargetLenient}/${n}.`
  );
}

function reportBlock(block: BlockSummary): string {
  const n = block.seeds.length;
  const out: string[] = [];
  out.push(
    `\n=== family "${block.family.name}" (slow-starter correlation ${block.family.slowStarterCorrelation}, noise sd ${block.family.noise}), ` +
      `minEpochs ${block.minEpochs}: rungs at epochs ${block.rungEpochs.join(", ")}, the end at ${block.maxEpochs} ===`,
  );
  out.push(
    `how misleading early ranks are (share of trial pairs ordered differently by true metric than at the end; median over seeds): ` +
      block.rungEpochs.map((e, k) => `epoch ${e}: ${pct(block.rankDisagreement[k]!.median)}`).join(", "),
  );
  const rows = block.policies.map((p) => [
    POLICY_LABEL[p.policy],
    spread(p.gpuHours, fixed(1)),
    spread(p.usd, fixed(2)),
    spread(p.trainingGpuHours, fixed(1)),
    spread(p.wallHours, fixed(1)),
    spread(p.interruptions, fixed(0)),
    spread(p.completed, fixed(0)),
    spread(p.winnerFinal, fixed(4)),
    spread(p.regret, fixed(4)),
    `${p.sameWinnerAsFull}/${n}`,
    `${p.seedsWithoutWinner}/${n}`,
  ]);
  out.push(
    table(
      `Per policy, median (p10–p90) over ${n} seeds`,
      ["policy", "GPU-hours", "$", "epoch GPU-h", "wall h", "interruptions", "completed", "winner final", "regret", "= full's winner", "no winner"],
      rows,
    ),
  );
  const r = block.ratios;
  out.push(
    `\nASHA / full: GPU-hours ${spread(r.ashaVsFullGpuHours, fixed(3))}, $ ${spread(r.ashaVsFullUsd, fixed(3))} ` +
      `(the same ratio: one instance type and price for every trial); epochs' GPU-hours alone ${spread(r.ashaVsFullTrainingGpuHours, fixed(3))}`,
  );
  out.push(`random / full: GPU-hours ${spread(r.randomVsFullGpuHours, fixed(3))}`);
  out.push(
    `ASHA vs random stopping (about the same expected promotions): ASHA's regret lower in ${block.ashaVsRandom.better}/${n} seeds, ` +
      `equal in ${block.ashaVsRandom.equal}/${n}, higher in ${n - block.ashaVsRandom.better - block.ashaVsRandom.equal}/${n}.`,
  );
  out.push(
    `ASHA picked full's winner in ${block.ashaSameWinner}/${n} seeds; its winner's regret ≤ ${REGRET_TOLERANCE} in ${block.ashaRegretWithinTolerance}/${n} seeds.`,
  );
  const probabilities = block.rungEpochs.map((e, k) => {
    const q = block.seeds.map((s) => s.randomContinueProbability[k]!).sort((a, b) => a - b);
    return `epoch ${e}: ${q[Math.floor((q.length - 1) / 2)]!.toFixed(2)}`;
  });
  out.push(`random stopping's continue probability per rung (from each seed's ASHA run; median): ${probabilities.join(", ")}`);
  out.push(verdict(block));
  return out.join("\n");
}

function main(): void {
  const flags = parseFlags(process.argv.slice(2));
  const price = priceOf(INSTANCE_TYPE, REGION);
  const usdPerGpuHour = price?.spotMedianUsdPerHour;
  if (usdPerGpuHour === undefined) throw new Error(`the price snapshot has no spot price for ${INSTANCE_TYPE} in ${REGION}`);
  const options: ExperimentOptions = {
    seeds: flags.seeds,
    families: CURVE_FAMILIES,
    minEpochsList: flags.minEpochs,
    trials: flags.trials,
    images: IMAGES,
    gpu: GPU,
    sweep: {
      maxEpochs: 81,
      reductionFactor: 3,
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
    `${flags.trials} trials (random search: model ${SEARCH_SPACE.model.join("/")}, imgsz ${SEARCH_SPACE.imgsz.join("/")}, lr0 log-uniform ${SEARCH_SPACE.lr0.min}–${SEARCH_SPACE.lr0.max}), ` +
      `maxEpochs ${s.maxEpochs}, η ${s.reductionFactor}, metric mAP50-95 maximized, ${s.maxParallel} trials at once (maxParallel), started in trial order as GPUs free up.`,
    `Each trial on one ${INSTANCE_TYPE} (1× A10G) in ${REGION} at the spot median $${usdPerGpuHour}/h (${PRICE_SNAPSHOT.source} @ ${PRICE_SNAPSHOT.commit.slice(0, 7)}; undated snapshot).`,
    `Epoch time from the catalog's time model (catalog/trainingTime.ts) for ${IMAGES.toLocaleString("en-US")} training images per epoch on an A10G; ` +
      `every instance start bills ${s.startupHours} h (boot, image pull, data), every completed trial ${s.finishHours} h (final validation, export); ` +
      `a trial stopped early tears down at once.`,
    `Spot interruptions: Poisson, ${s.interruptionsPerGpuHour} per GPU-hour of a running instance, drawn per trial (the same under every policy); ` +
      `an interrupted trial loses the epoch in progress (every epoch checkpoints), waits ${(s.restartWaitHours * 60).toFixed(0)} min unbilled for capacity, ` +
      `pays the start-up again and resumes from its checkpoint with its rung entries.`,
    `Winner: the completed trial with the best observed metric after epoch ${s.maxEpochs}; regret = best true final metric of all trials − the winner's true final metric. ` +
      `Random stopping continues at each rung with ASHA's promotions/arrivals there in the same seed (same expected promotions per rung).`,
    `Curves: metric(e) = a − b·exp(−e/τ) + noise, families fixed in advance (bench/sweep/learningCurves.ts), not tuned to any outcome; ` +
      `no LR-decay or close_mosaic effects, no overfitting.`,
  ];

  const blocks: BlockSummary[] = [];
  for (const family of options.families) {
    for (const minEpochs of options.minEpochsList) {
      process.stderr.write(`simulating ${family.name}, minEpochs ${minEpochs}, ${options.seeds} seeds…\n`);
      blocks.push(runBlock(options, family, minEpochs));
    }
  }

  if (flags.json) {
    process.stdout.write(
      JSON.stringify(
        {
          benchmark: "bench:sweep",
          generatedAt: new Date().toISOString(),
          settings: { ...options, instanceType: INSTANCE_TYPE, region: REGION, targetCostRatio: TARGET_COST_RATIO, regretTolerance: REGRET_TOLERANCE },
          assumptions,
          realCurves: REAL_CURVES_NOTE,
          blocks,
        },
        null,
        2,
      ) + "\n",
    );
    return;
  }

  const out: string[] = [];
  out.push(`yolo-train sweep simulation (issue 12) — ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, ${flags.seeds} seeds per block`);
  out.push("Simulated time and synthetic curves; nothing here is a measurement of real training.");
  out.push(...assumptions.map((a) => `- ${a}`));
  out.push(`- ${REAL_CURVES_NOTE}`);
  for (const block of blocks) out.push(reportBlock(block));
  out.push("\n=== summary against issue 12's target ===");
  for (const block of blocks) out.push(verdict(block));
  const met = blocks.filter((b) => b.meetsTarget).length;
  out.push(`${met} of ${blocks.length} family × minEpochs blocks meet the target.`);
  process.stdout.write(out.join("\n") + "\n");
}

try {
  main();
} catch (error: unknown) {
  const text = error instanceof UsageError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`bench:sweep failed: ${text}\n`);
  process.exit(1);
}
