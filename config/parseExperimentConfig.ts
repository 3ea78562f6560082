import type { z } from "zod";
import {
  GPU_CLASSES,
  catalogRegions,
  cheapestSpotPrice,
  findInstanceType,
  gpuCountsFor,
  instanceTypesFor,
  knownInstanceTypeNames,
  priceOf,
  regionsOffering,
  type Capacity,
  type GpuClass,
  type InstanceTypeSpec,
} from "../catalog";
import { DEFAULT_MODELS_PREFIX } from "../components/bucketLayout";
import { checkHyperparameters } from "./hyperparameters";
import { KNOWN_KEYS } from "./keys";
import { STAGE_PRESETS, presetGpuCount } from "./presets";
import { InvalidInputError, type Problem } from "./problems";
import { coerceNumber } from "./coercion";
import {
  DEFAULT_PROMOTION_METRIC,
  GPU_COUNTS,
  KEY_RULES,
  KMS_KEY_ARN,
  MODEL_NAME,
  NESTED_WORDING,
  OBJECT_FIELDS,
  type Wording,
} from "./schema";
import { parseDataSource, parseModelSource } from "./sources";
import { closestMatch, listWithOr } from "./suggest";
import type {
  DataSource,
  DatasetMount,
  ExperimentConfig,
  ModelSource,
  OtaSettings,
  ProgressivePhase,
  PromotionGate,
  RawStackConfig,
  SharedOtaBucket,
  Stage,
  StackContext,
  TrackingSettings,
} from "./types";

/** Defaults of keys that no stage preset sets (design.md §3). */
export const DEFAULTS = Object.freeze({
  stage: "debug" as Stage,
  model: "yolov8n.pt",
  data: "coco8.yaml",
  epochs: 100,
  imgsz: 640,
  batch: 16,
  datasetMount: "mountpoint" as DatasetMount,
  idleMinutes: 15,
  idleGpuPercent: 5,
  restartIfCheckpointLost: false,
  otaChannel: "candidate" as const,
});

/** Shown instead of a secret's value in messages. */
const REDACTED = "[secret, not shown]";

/** The subject of config errors: "Stack config yolo-train/dev". */
export function configSubject(context: { readonly project: string; readonly stack: string }): string {
  return `Stack config ${context.project}/${context.stack}`;
}

/**
 * Validates a stack config and fills in every default: the one typed object `index.ts`
 * composes. Pure: no Pulumi, no I/O (the price catalog is bundled data).
 * Throws {@link InvalidInputError} naming `Stack config <project>/<stack>` with every problem
 * at once: shape errors, unknown keys and cross-key rules together.
 */
export function parseExperimentConfig(raw: RawStackConfig, context: StackContext): ExperimentConfig {
  const { config, problems } = checkExperimentConfig(raw, context);
  if (config === undefined) throw new InvalidInputError(configSubject(context), problems);
  return config;
}

/** What {@link checkExperimentConfig} found: the config when there is no problem, else the problems. */
export interface ConfigCheck {
  readonly config?: ExperimentConfig;
  readonly problems: readonly Problem[];
}

/**
 * Like {@link parseExperimentConfig}, but returns the problems instead of throwing, so a caller
 * can add its own (a missing `aws:region`) and report them all together. Without `region`,
 * region rules are skipped and no config is returned.
 */
export function checkExperimentConfig(
  raw: RawStackConfig,
  context: Omit<StackContext, "region"> & { readonly region?: string },
): ConfigCheck {
  return new ConfigChecker(raw, context).run();
}

type Path = readonly PropertyKey[];

function pathText(key: string, path: Path): string {
  return key + path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
}

function pathPattern(key: string, path: Path): string {
  return key + path.map((p) => (typeof p === "number" ? "[]" : `.${String(p)}`)).join("");
}

function valueAt(value: unknown, path: Path): unknown {
  let current = value;
  for (const step of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[step as string];
  }
  return current;
}

function usd(n: number): string {
  return `$${Number(n.toFixed(4))}`;
}

/** The stack name as an OTA model name: lower-case, [a-z0-9-], at most 63 characters. */
export function defaultModelName(stack: string): string {
  const name = stack
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .slice(0, 63)
    .replace(/^-+|-+$/g, "");
  return MODEL_NAME.test(name) ? name : "model";
}

/** Freezes an object and everything reachable from it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

interface Hardware {
  readonly gpu?: GpuClass;
  readonly gpusPerNode?: number;
  readonly instanceTypes?: readonly string[];
  readonly explicit: boolean;
}

class ConfigChecker {
  private readonly problems: Problem[] = [];
  private readonly seen = new Set<string>();
  /** Values of keys that passed their own schema, coerced. */
  private readonly parsed: Record<string, unknown> = {};
  private readonly secretKeys: ReadonlySet<string>;

  constructor(
    private readonly raw: RawStackConfig,
    private readonly context: Omit<StackContext, "region"> & { readonly region?: string },
  ) {
    this.secretKeys = new Set(context.secretKeys ?? []);
  }

  run(): ConfigCheck {
    this.checkUnknownKeys();
    this.checkShapes();
    const hyperparameters = this.checkHyperparameters();

    const stage = this.resolve<Stage>("stage", DEFAULTS.stage);
    const preset = stage !== undefined ? STAGE_PRESETS[stage] : undefined;
    const capacity = this.resolve<Capacity>("capacity", preset?.capacity);
    const maxRuntimeHours = this.resolve<number>("maxRuntimeHours", preset?.maxRuntimeHours);

    let hardware = this.resolveHardware(preset?.gpu, preset?.gpusPerNode);
    hardware = this.checkRegion(hardware, capacity ?? "spot");
    this.checkMaxSpotPrice(capacity, hardware.instanceTypes);

    const { epochs, imgsz, progressive } = this.resolveTrainingLength();
    const batch = this.resolve<number>("batch", DEFAULTS.batch);
    this.checkBatchOverGpus(batch, hardware.gpusPerNode);
    const tracking = this.resolveTracking();
    const ota = this.resolveOta(hyperparameters);
    this.checkBudget();

    const model = this.resolve<string>("model", DEFAULTS.model);
    const data = this.resolve<string>("data", DEFAULTS.data);
    const datasetMount = this.resolve<DatasetMount>("datasetMount", DEFAULTS.datasetMount);
    const idleMinutes = this.resolve<number>("idleMinutes", DEFAULTS.idleMinutes);
    const idleGpuPercent = this.resolve<number>("idleGpuPercent", DEFAULTS.idleGpuPercent);
    const restartIfCheckpointLost = this.resolve<boolean>("restartIfCheckpointLost", DEFAULTS.restartIfCheckpointLost);

    if (this.problems.length > 0) return { problems: this.problems };
    const region = this.context.region;
    if (region === undefined) return { problems: this.problems };

    // With no problem left, every value below is set; the checks above guarantee it.
    const modelSource = parseModelSource(model!) as ModelSource;
    const dataSource = parseDataSource(data!) as DataSource;
    const maxSpotPrice = this.parsed.maxSpotPrice as number | undefined;
    const budgetUsd = this.parsed.budgetUsd as number | undefined;
    const datasetImages = this.parsed.datasetImages as number | undefined;
    const alertEmail = this.parsed.alertEmail as string | undefined;
    const network = this.parsed.network as ExperimentConfig["network"];
    const image = this.parsed.image as string | undefined;

    const config: ExperimentConfig = {
      project: this.context.project,
      stack: this.context.stack,
      region,
      stage: stage!,
      gpu: hardware.gpu!,
      gpusPerNode: hardware.gpusPerNode!,
      instanceTypes: [...hardware.instanceTypes!],
      instanceTypesExplicit: hardware.explicit,
      capacity: capacity!,
      ...(maxSpotPrice !== undefined ? { maxSpotPrice } : {}),
      model: model!,
      modelSource,
      data: data!,
      dataSource,
      ...(datasetImages !== undefined ? { datasetImages } : {}),
      epochs: epochs!,
      imgsz: imgsz!,
      batch: batch!,
      hyperparameters: hyperparameters!,
      ...(progressive !== undefined ? { progressive } : {}),
      datasetMount: datasetMount!,
      maxRuntimeHours: maxRuntimeHours!,
      idleMinutes: idleMinutes!,
      idleGpuPercent: idleGpuPercent!,
      restartIfCheckpointLost: restartIfCheckpointLost!,
      ...(budgetUsd !== undefined ? { budgetUsd } : {}),
      ...(alertEmail !== undefined ? { alertEmail } : {}),
      ota: ota!,
      ...(network !== undefined ? { network } : {}),
      ...(image !== undefined ? { image } : {}),
      tracking: tracking!,
    };
    return { config: deepFreeze(config), problems: [] };
  }

  // ---- bookkeeping ----------------------------------------------------------------------

  private add(problem: Problem): void {
    // One problem per key and rule is enough; zod can report a value twice (type, then refine).
    const id = `${problem.key}\u0000${problem.allowed}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.problems.push(problem);
  }

  private given(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  private valid(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.parsed, key);
  }

  /** The parsed value when given and valid, the fallback when not given, undefined when invalid. */
  private resolve<T>(key: string, fallback: T | undefined): T | undefined {
    if (!this.given(key)) return fallback;
    return this.valid(key) ? (this.parsed[key] as T) : undefined;
  }

  /** A value as messages may show it: secrets never, wandbApiKey never. */
  private shown(key: string, path: Path, value: unknown): unknown {
    if (this.secretKeys.has(key)) return REDACTED;
    if (key === "tracking") {
      if (path.includes("wandbApiKey")) return REDACTED;
      if (value !== null && typeof value === "object" && "wandbApiKey" in value) return { ...value, wandbApiKey: REDACTED };
    }
    return value;
  }

  // ---- keys and shapes ------------------------------------------------------------------

  private checkUnknownKeys(): void {
    for (const key of Object.keys(this.raw)) {
      if (KNOWN_KEYS.includes(key) || this.raw[key] === undefined) continue;
      const guess = closestMatch(key, KNOWN_KEYS);
      this.add({
        key,
        value: this.shown(key, [], this.raw[key]),
        allowed: "a known yolo-train key (docs/config.md lists them)",
        fix: guess
          ? `did you mean \`${guess}\`? pulumi config rm yolo-train:${key}, then set yolo-train:${guess}`
          : `remove it: pulumi config rm yolo-train:${key}`,
      });
    }
  }

  private checkShapes(): void {
    for (const [key, rule] of Object.entries(KEY_RULES)) {
      const value = this.raw[key];
      if (value === undefined) continue;
      const result = rule.schema.safeParse(value);
      if (result.success) this.parsed[key] = result.data;
      else for (const issue of result.error.issues) this.addIssue(key, rule, value, issue);
    }
  }

  private addIssue(key: string, rule: Wording, value: unknown, issue: z.core.$ZodIssue): void {
    if (issue.code === "unrecognized_keys") {
      const container = pathPattern(key, issue.path);
      const fields = (Object.hasOwn(OBJECT_FIELDS, container) ? OBJECT_FIELDS[container] : undefined) ?? [];
      for (const field of issue.keys) {
        const path = [...issue.path, field];
        const guess = closestMatch(field, fields);
        this.add({
          key: pathText(key, path),
          value: this.shown(key, path, valueAt(value, path)),
          allowed: `a field of \`${pathText(key, issue.path)}\`: ${listWithOr(fields)}`,
          fix: guess ? `did you mean \`${guess}\`?` : "remove it",
        });
      }
      return;
    }
    const wording: Wording =
      issue.path.length === 0
        ? rule
        : (ownWording(pathPattern(key, issue.path)) ?? { allowed: issue.message, fix: "see docs/config.md" });
    const given = valueAt(value, issue.path);
    const guess = wording.choices && typeof given === "string" ? closestMatch(given, wording.choices) : undefined;
    this.add({
      key: pathText(key, issue.path),
      value: this.shown(key, issue.path, wording.numeric ? coerceNumber(given) : given),
      allowed: wording.allowed,
      fix: guess ? `did you mean \`${guess}\`?` : typeof wording.fix === "function" ? wording.fix(given) : wording.fix,
    });
  }

  private checkHyperparameters(): Readonly<Record<string, string | number | boolean>> | undefined {
    const { value, problems } = checkHyperparameters(this.raw.hyperparameters);
    for (const p of problems) this.add({ ...p, value: this.shown("hyperparameters", [], p.value) });
    return value;
  }

  // ---- GPUs, instance types, region, price ----------------------------------------------

  private resolveHardware(presetGpu: GpuClass | undefined, presetCount: number | undefined): Hardware {
    if (this.given("instanceTypes")) return this.explicitHardware();

    const gpu = this.given("gpu") ? (this.parsed.gpu as GpuClass | undefined) : presetGpu;
    const requested = this.given("gpusPerNode") ? (this.parsed.gpusPerNode as number | undefined) : undefined;
    if (gpu === undefined) {
      // The GPU class is invalid (reported): still check the count's own rule.
      if (requested !== undefined && !(GPU_COUNTS as readonly number[]).includes(requested)) {
        this.add({ key: "gpusPerNode", value: requested, allowed: "1, 4 or 8", fix: "e.g. 1" });
      }
      return { explicit: false };
    }
    const offered = gpuCountsFor(gpu);
    let gpusPerNode: number | undefined;
    if (this.given("gpusPerNode")) {
      if (requested === undefined) return { gpu, explicit: false };
      if (!offered.includes(requested)) {
        this.add(this.gpuCountProblem(gpu, requested, offered));
        return { gpu, explicit: false };
      }
      gpusPerNode = requested;
    } else {
      gpusPerNode = presetCount !== undefined ? presetGpuCount(presetCount, offered) : undefined;
    }
    if (gpusPerNode === undefined) return { gpu, explicit: false };
    return { gpu, gpusPerNode, instanceTypes: instanceTypesFor(gpu, gpusPerNode).map((t) => t.name), explicit: false };
  }

  private gpuCountProblem(gpu: GpuClass, requested: number, offered: readonly number[]): Problem {
    const nearest = [...offered].sort((a, b) => Math.abs(a - requested) - Math.abs(b - requested) || a - b)[0];
    const others = (GPU_COUNTS as readonly number[]).includes(requested)
      ? GPU_CLASSES.filter((g) => gpuCountsFor(g).includes(requested))
      : [];
    return {
      key: "gpusPerNode",
      value: requested,
      allowed: `a GPU count per node that ${gpu} offers on AWS: ${listWithOr(offered)}`,
      fix:
        `e.g. ${nearest}` +
        (others.length > 0 ? `, or a gpu with ${requested} per node: ${listWithOr(others)}` : ""),
    };
  }

  private explicitHardware(): Hardware {
    const names = this.parsed.instanceTypes as string[] | undefined;
    if (names === undefined) return { explicit: true };
    // A repeated name is harmless: keep the first.
    const unique = [...new Set(names)];
    const specs: InstanceTypeSpec[] = [];
    unique.forEach((name) => {
      const i = names.indexOf(name);
      const spec = findInstanceType(name);
      if (spec !== undefined) {
        specs.push(spec);
        return;
      }
      const guess = closestMatch(name, knownInstanceTypeNames());
      this.add({
        key: `instanceTypes[${i}]`,
        value: name,
        allowed: "an instance type in the GPU catalog (docs/config.md#instancetypes lists them)",
        fix: guess ? `did you mean \`${guess}\`?` : "remove it, or use `gpu` and `gpusPerNode` instead",
      });
    });
    const groups = new Map<string, string[]>();
    for (const s of specs) {
      const group = `${s.gpu} ×${s.gpus}`;
      groups.set(group, [...(groups.get(group) ?? []), s.name]);
    }
    if (groups.size > 1) {
      this.add({
        key: "instanceTypes",
        value: names,
        allowed:
          "instance types of one GPU class with one GPU count per node (DDP starts one worker per GPU, " +
          "so a replacement node must have the same devices)",
        fix: `keep one group: ${[...groups].map(([group, types]) => `${types.join(", ")} (${group})`).join("; or ")}`,
      });
      return { explicit: true };
    }
    if (specs.length !== unique.length) return { explicit: true };
    const first = specs[0]!;
    if (this.valid("gpu") && this.parsed.gpu !== first.gpu) {
      this.add({
        key: "gpu",
        value: this.parsed.gpu,
        allowed: `${first.gpu}, the GPU of \`instanceTypes\`, or unset`,
        fix: "remove it: `instanceTypes` decides the GPU (pulumi config rm yolo-train:gpu)",
      });
    }
    if (this.valid("gpusPerNode") && this.parsed.gpusPerNode !== first.gpus) {
      this.add({
        key: "gpusPerNode",
        value: this.parsed.gpusPerNode,
        allowed: `${first.gpus}, the GPU count of \`instanceTypes\`, or unset`,
        fix: "remove it: `instanceTypes` decides the GPU count (pulumi config rm yolo-train:gpusPerNode)",
      });
    }
    return { gpu: first.gpu, gpusPerNode: first.gpus, instanceTypes: unique, explicit: true };
  }

  /** Keeps the types the price catalog lists in the region, cheapest first; problems when none (or, explicit, not all) are. */
  private checkRegion(hardware: Hardware, capacity: Capacity): Hardware {
    const region = this.context.region;
    const types = hardware.instanceTypes;
    if (region === undefined || types === undefined) return hardware;
    const regions = catalogRegions();
    if (!regions.includes(region)) {
      this.add({
        key: "aws:region",
        value: region,
        allowed: `a region in the GPU price catalog: ${listWithOr(regions)}`,
        fix: "pulumi config set aws:region us-east-1",
      });
      return { ...hardware, instanceTypes: undefined };
    }
    const offered = types.filter((t) => priceOf(t, region) !== undefined);
    if (hardware.explicit && offered.length < types.length) {
      const missing = types.filter((t) => !offered.includes(t));
      const everywhere = regions.filter((r) => types.every((t) => regionsOffering(t).includes(r)));
      this.add({
        key: "instanceTypes",
        value: types,
        allowed:
          `instance types offered in ${region} (price catalog); not offered there: ` +
          missing.map((t) => `${t} (offered in ${listWithOr(regionsOffering(t))})`).join(", "),
        fix:
          `remove ${listWithOr(missing)}` +
          (everywhere.length > 0 ? `, or choose a region among ${listWithOr(everywhere)}` : ""),
      });
      return { ...hardware, instanceTypes: undefined };
    }
    if (offered.length === 0) {
      const n = hardware.gpusPerNode!;
      const elsewhere = regions.filter((r) => types.some((t) => regionsOffering(t).includes(r)));
      const otherGpus = GPU_CLASSES.filter(
        (g) => g !== hardware.gpu && instanceTypesFor(g, n).some((t) => priceOf(t.name, region) !== undefined),
      );
      this.add({
        key: "gpu",
        value: hardware.gpu,
        allowed:
          `a GPU class offered in ${region} with ${n} per node; none of ${listWithOr(types)} is (price catalog)`,
        fix:
          (elsewhere.length > 0 ? `choose a region among ${listWithOr(elsewhere)} (pulumi config set aws:region ${elsewhere[0]})` : "choose another region") +
          (otherGpus.length > 0 ? `, or another gpu with ${n} per node there: ${listWithOr(otherGpus)}` : ", or another gpu"),
      });
      return { ...hardware, instanceTypes: undefined };
    }
    const rate = (t: string): number => {
      const price = priceOf(t, region)!;
      return capacity === "on-demand" ? price.onDemandUsdPerHour : (price.spotMedianUsdPerHour ?? price.onDemandUsdPerHour);
    };
    // Array.prototype.sort is stable: equal prices keep the catalog's order.
    return { ...hardware, instanceTypes: [...offered].sort((a, b) => rate(a) - rate(b)) };
  }

  private checkMaxSpotPrice(capacity: Capacity | undefined, types: readonly string[] | undefined): void {
    if (!this.valid("maxSpotPrice")) return;
    const max = this.parsed.maxSpotPrice as number;
    if (capacity === "on-demand") {
      this.add({
        key: "maxSpotPrice",
        value: max,
        allowed: "unset when `capacity` is on-demand (it caps spot prices only)",
        fix: "pulumi config rm yolo-train:maxSpotPrice, or set capacity to spot",
      });
      return;
    }
    const region = this.context.region;
    if (capacity !== "spot" || region === undefined || types === undefined || types.length === 0) return;
    const cheapest = cheapestSpotPrice(types, region);
    if (cheapest === undefined || max >= cheapest) return;
    const medians = types
      .map((t) => priceOf(t, region)?.spotMedianUsdPerHour)
      .filter((p): p is number => p !== undefined);
    const typical = medians.length > 0 ? Math.min(...medians) : cheapest;
    this.add({
      key: "maxSpotPrice",
      value: max,
      allowed:
        `at least ${usd(cheapest)} per hour, the cheapest spot price of ${listWithOr(types)} in ${region} ` +
        "in the price catalog; below it no spot capacity would ever be granted",
      fix: `e.g. ${Math.ceil(typical * 100) / 100} (the typical spot price there), or remove it`,
    });
  }

  // ---- training length, batch -----------------------------------------------------------

  private resolveTrainingLength(): { epochs?: number; imgsz?: number; progressive?: readonly ProgressivePhase[] } {
    const phases = this.parsed.progressive as ProgressivePhase[] | undefined;
    if (phases === undefined) {
      return {
        epochs: this.resolve<number>("epochs", DEFAULTS.epochs),
        imgsz: this.resolve<number>("imgsz", DEFAULTS.imgsz),
      };
    }
    // The run's imgsz is the last phase's; its epochs are the phases' sum (docs/config.md#progressive).
    const last = phases[phases.length - 1]!;
    const sum = phases.reduce((total, p) => total + p.epochs, 0);
    phases.forEach((phase, i) => {
      const before = phases[i - 1];
      if (before !== undefined && phase.imgsz < before.imgsz) {
        this.add({
          key: `progressive[${i}].imgsz`,
          value: phase.imgsz,
          allowed: `at least ${before.imgsz}, the imgsz of the phase before (phases train small first, then larger)`,
          fix: "order the phases by imgsz, smallest first",
        });
      }
    });
    const imgsz = this.resolve<number>("imgsz", last.imgsz);
    const epochs = this.resolve<number>("epochs", sum);
    if (this.valid("imgsz") && imgsz !== last.imgsz) {
      this.add({
        key: "progressive",
        value: phases,
        allowed: `phases whose last imgsz is the run's \`imgsz\` (${imgsz}); the last is ${last.imgsz}`,
        fix: `end with a phase at imgsz ${imgsz}, or remove \`imgsz\` (it defaults to the last phase's)`,
      });
    }
    if (this.valid("epochs") && epochs !== sum) {
      this.add({
        key: "progressive",
        value: phases,
        allowed: `phases whose epochs add up to \`epochs\` (${epochs}); they add up to ${sum}`,
        fix: "remove `epochs` (it defaults to the phases' sum), or change the phases' epochs",
      });
    }
    if (!this.given("epochs") && sum > 10000) {
      this.add({ key: "progressive", value: phases, allowed: `phases of 10000 epochs in all at most; they add up to ${sum}`, fix: "shorten the phases" });
    }
    return { epochs, imgsz, progressive: phases };
  }

  /** Ultralytics' DDP check (select_device): batch ≥ 1 and a multiple of the GPU count. */
  private checkBatchOverGpus(batch: number | undefined, gpusPerNode: number | undefined): void {
    if (batch === undefined || gpusPerNode === undefined || gpusPerNode <= 1) return;
    if (batch < 1) {
      this.add({
        key: "batch",
        value: batch,
        allowed: `a whole number that is a multiple of ${gpusPerNode} (gpusPerNode): ultralytics has no AutoBatch for multi-GPU (DDP) training`,
        fix: `e.g. ${gpusPerNode * 8}`,
      });
    } else if (batch % gpusPerNode !== 0) {
      const below = Math.floor(batch / gpusPerNode) * gpusPerNode;
      const above = below + gpusPerNode;
      this.add({
        key: "batch",
        value: batch,
        allowed: `a multiple of ${gpusPerNode} (gpusPerNode): DDP splits every batch evenly over the GPUs`,
        fix: below > 0 ? `e.g. ${below} or ${above}` : `e.g. ${above}`,
      });
    }
  }

  // ---- tracking, OTA, money -------------------------------------------------------------

  private resolveTracking(): TrackingSettings | undefined {
    if (!this.given("tracking")) return { kind: "off" };
    const t = this.parsed.tracking as { mlflowUri?: string; wandbProject?: string; wandbApiKey?: string } | undefined;
    if (t === undefined) return undefined;
    const shown = this.shown("tracking", [], this.raw.tracking);
    const wandb = t.wandbProject !== undefined || t.wandbApiKey !== undefined;
    if (t.mlflowUri !== undefined && wandb) {
      this.add({
        key: "tracking",
        value: shown,
        allowed: "either { mlflowUri } or { wandbProject, wandbApiKey }, not both",
        fix: "remove the fields of the tracker you do not use",
      });
      return undefined;
    }
    if (t.mlflowUri !== undefined) return { kind: "mlflow", mlflowUri: t.mlflowUri };
    if (!wandb) {
      this.add({
        key: "tracking",
        value: shown,
        allowed: "{ mlflowUri } or { wandbProject, wandbApiKey }",
        fix: "set one of them, or remove the key to train without tracking (pulumi config rm yolo-train:tracking)",
      });
      return undefined;
    }
    let ok = true;
    if (t.wandbProject === undefined) {
      ok = false;
      this.add({ key: "tracking.wandbProject", value: undefined, allowed: "set along with `tracking.wandbApiKey`", fix: "pulumi config set --path 'yolo-train:tracking.wandbProject' <project>" });
    }
    if (t.wandbApiKey === undefined) {
      ok = false;
      this.add({
        key: "tracking.wandbApiKey",
        value: undefined,
        allowed: "set along with `tracking.wandbProject`, as a Pulumi secret",
        fix: "pulumi config set --secret --path 'yolo-train:tracking.wandbApiKey' <key>",
      });
    } else if (!this.secretKeys.has("tracking")) {
      ok = false;
      this.add({
        key: "tracking.wandbApiKey",
        value: REDACTED,
        allowed: "a Pulumi secret (it is stored in plain text in the stack config now)",
        fix: "pulumi config set --secret --path 'yolo-train:tracking.wandbApiKey' <key>, and rotate the key",
      });
    }
    return ok ? { kind: "wandb", wandbProject: t.wandbProject!, wandbApiKeyIsSet: true } : undefined;
  }

  private resolveOta(hyperparameters: Readonly<Record<string, unknown>> | undefined): OtaSettings | undefined {
    if (this.given("ota") && !this.valid("ota")) return undefined;
    const ota = (this.parsed.ota ?? {}) as {
      modelName?: string;
      channel?: OtaSettings["channel"];
      promote?: { metric?: string; min: number; requireImprovement?: boolean };
      bucket?: string;
      signingKeyArn?: string;
      modelsPrefix?: string;
    };
    let promote: PromotionGate | undefined;
    if (ota.promote !== undefined) {
      promote = {
        metric: ota.promote.metric ?? DEFAULT_PROMOTION_METRIC,
        min: ota.promote.min,
        requireImprovement: ota.promote.requireImprovement ?? true,
      };
      if (hyperparameters?.val === false) {
        this.add({
          key: "hyperparameters.val",
          value: false,
          allowed: "true (or unset) while `ota.promote` gates on validation metrics",
          fix: "remove hyperparameters.val, or remove ota.promote",
        });
      }
    }
    const shared = this.resolveSharedOtaBucket(ota);
    return {
      modelName: ota.modelName ?? defaultModelName(this.context.stack),
      channel: ota.channel ?? DEFAULTS.otaChannel,
      ...(promote !== undefined ? { promote } : {}),
      ...(shared !== undefined ? { shared } : {}),
    };
  }

  /** `ota.bucket` and `ota.signingKeyArn` go together: a fleet bucket is useless without its key. */
  private resolveSharedOtaBucket(ota: { bucket?: string; signingKeyArn?: string; modelsPrefix?: string }): SharedOtaBucket | undefined {
    const { bucket, signingKeyArn, modelsPrefix } = ota;
    if (bucket === undefined && signingKeyArn === undefined) {
      if (modelsPrefix !== undefined) {
        this.add({
          key: "ota.modelsPrefix",
          value: modelsPrefix,
          allowed: "set only with `ota.bucket` (this stack's own OTA bucket keeps models under models/)",
          fix: "remove ota.modelsPrefix, or set ota.bucket and ota.signingKeyArn too",
        });
      }
      return undefined;
    }
    if (bucket === undefined || signingKeyArn === undefined) {
      const [missing, given] = bucket === undefined ? ["ota.bucket", signingKeyArn] : ["ota.signingKeyArn", bucket];
      this.add({
        key: missing,
        value: undefined,
        allowed: `set together with ${missing === "ota.bucket" ? "`ota.signingKeyArn`" : "`ota.bucket`"} (${JSON.stringify(given)}): devices verify releases with the key of the bucket they read`,
        fix:
          missing === "ota.bucket"
            ? "pulumi config set --path 'yolo-train:ota.bucket' <the platform stack's otaBucketName>"
            : "pulumi config set --path 'yolo-train:ota.signingKeyArn' <the platform stack's signingKeyArn>",
      });
      return undefined;
    }
    const keyRegion = KMS_KEY_ARN.exec(signingKeyArn)?.[1];
    const region = this.context.region;
    if (keyRegion !== undefined && region !== undefined && keyRegion !== region) {
      this.add({
        key: "ota.signingKeyArn",
        value: signingKeyArn,
        allowed: `a key in the stack's region ${region}: the run agent signs with a KMS client of that region`,
        fix: `use the fleet key of ${region} (a multi-Region replica key works too), or deploy the stack in ${keyRegion}`,
      });
    }
    return { bucket, signingKeyArn, modelsPrefix: modelsPrefix ?? DEFAULT_MODELS_PREFIX };
  }

  /** AWS Budgets notifications need a subscriber: a budget nobody hears about protects nothing. */
  private checkBudget(): void {
    if (this.valid("budgetUsd") && !this.given("alertEmail")) {
      this.add({
        key: "budgetUsd",
        value: this.parsed.budgetUsd,
        allowed: "set together with `alertEmail`, who receives the budget alerts",
        fix: "pulumi config set yolo-train:alertEmail ml-team@example.com",
      });
    }
  }
}

function ownWording(pattern: string): Wording | undefined {
  return Object.hasOwn(NESTED_WORDING, pattern) ? NESTED_WORDING[pattern] : undefined;
}
