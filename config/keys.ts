import { EPOCHS, IDLE_GPU_PERCENT, IDLE_MINUTES, IMGSZ, MAX_RUNTIME_HOURS, RESTART_IF_CHECKPOINT_LOST_DEFAULT } from "../runspec/limits";
import { DEFAULTS } from "./defaults";
import { STAGE_PRESETS } from "./presets";

/** The config namespace: every key is `yolo-train:<key>` in `Pulumi.<stack>.yaml`. */
export const CONFIG_NAMESPACE = "yolo-train";

/** One stack config key, as README, docs/config.md and `plan` describe it. */
export interface ConfigKeyDoc {
  readonly key: string;
  /** What it means and what is allowed, in one or two sentences. */
  readonly description: string;
  /** What happens when it is left out. */
  readonly default: string;
  /** A `pulumi config set` command that sets it. */
  readonly example: string;
  /** True for keys whose value is an object or list (set with `--path`, or as JSON). */
  readonly structured: boolean;
}

const set = (rest: string) => `pulumi config set ${rest}`;

/** Every key of the `yolo-train` namespace, in the order docs list them. */
export const CONFIG_KEYS: readonly ConfigKeyDoc[] = Object.freeze(
  [
    {
      key: "stage",
      description: "`debug`, `train` or `finetune`: a preset of GPU class, GPUs per node, capacity and max runtime (see STAGE_PRESETS). Keys you set win over the preset.",
      default: DEFAULTS.stage,
      example: set("yolo-train:stage train"),
      structured: false,
    },
    {
      key: "gpu",
      description: "GPU class: `t4`, `a10g`, `l4`, `l40s`, `a100`, `a100-80gb` or `h100`.",
      default: "from `stage`",
      example: set("yolo-train:gpu l4"),
      structured: false,
    },
    {
      key: "gpusPerNode",
      description: "GPUs per node: 1, 4 or 8, and a count AWS offers for that GPU class (t4: 1 or 4; a100: 8). More than 1 trains with DDP on one node.",
      default: "from `stage`; with `gpu` set, the preset's count if that GPU offers it, else the largest offered count below it (else the smallest offered)",
      example: set("yolo-train:gpusPerNode 4"),
      structured: false,
    },
    {
      key: "instanceTypes",
      description: "Explicit EC2 instance types (from the catalog), all with the same GPU class and count; overrides `gpu` and `gpusPerNode`. Must be offered in the stack's region.",
      default: "every catalog type with `gpu` × `gpusPerNode` offered in the region, cheapest first",
      example: set("--path 'yolo-train:instanceTypes[0]' g5.xlarge"),
      structured: true,
    },
    {
      key: "capacity",
      description: "`spot` or `on-demand`.",
      default: "from `stage` (spot for every stage)",
      example: set("yolo-train:capacity on-demand"),
      structured: false,
    },
    {
      key: "maxSpotPrice",
      description: "Cap in USD per instance-hour for spot capacity; must not be below the cheapest spot price in the price catalog for the region, or nothing would ever launch.",
      default: "none (spot price, capped by AWS at the on-demand price)",
      example: set("yolo-train:maxSpotPrice 0.35"),
      structured: false,
    },
    {
      key: "model",
      description: "Starting weights: `yolov8{n,s,m,l,x}.pt`, `yolo11{n,s,m,l,x}.pt`, `yolov5{n,s,m,l,x}u.pt`, or `s3://bucket/key.pt`.",
      default: DEFAULTS.model,
      example: set("yolo-train:model yolo11s.pt"),
      structured: false,
    },
    {
      key: "data",
      description: "A detection dataset yaml ultralytics ships (`coco8.yaml`, `coco.yaml`, `VOC.yaml`, …), `s3://bucket/prefix/data.yaml`, or a dataset name (lower-case letters, digits, `-`, `_`) meaning `datasets/<name>/data.yaml` in the stack's dataset bucket.",
      default: DEFAULTS.data,
      example: set("yolo-train:data pallets-v3"),
      structured: false,
    },
    {
      key: "datasetImages",
      description: "Training images per epoch, used only for the time and cost estimate (`plan`, the `estimate` output). Built-in datasets are known; for others the plan shows only the cost cap until this is set.",
      default: "known for built-in datasets (coco8 4, coco128 128, coco 118287, VOC 16551); otherwise unknown",
      example: set("yolo-train:datasetImages 5000"),
      structured: false,
    },
    {
      key: "epochs",
      description: `Training epochs, a whole number from ${EPOCHS.min} to ${EPOCHS.max}. With \`progressive\`, the sum of the phases' epochs.`,
      default: `${EPOCHS.default} (with \`progressive\`: the sum of its epochs)`,
      example: set("yolo-train:epochs 300"),
      structured: false,
    },
    {
      key: "imgsz",
      description: `Training image size in pixels, a multiple of ${IMGSZ.multipleOf} from ${IMGSZ.min} to ${IMGSZ.max}. With \`progressive\`, the last phase's size.`,
      default: `${IMGSZ.default} (with \`progressive\`: its last phase's imgsz)`,
      example: set("yolo-train:imgsz 960"),
      structured: false,
    },
    {
      key: "batch",
      description: "Images per batch over all GPUs of the node: a whole number ≥ 1, -1 for AutoBatch (60 % of GPU memory), or a fraction between 0 and 1 for AutoBatch at that share of GPU memory. With more than one GPU per node, a multiple of `gpusPerNode` (AutoBatch is single-GPU only in ultralytics).",
      default: String(DEFAULTS.batch),
      example: set("yolo-train:batch 64"),
      structured: false,
    },
    {
      key: "hyperparameters",
      description: "Further ultralytics train arguments (lr0, lrf, momentum, optimizer, cos_lr, mosaic, …), checked against the known list and their value types; arguments with their own key or owned by the run agent are refused. lr0, momentum and warmup_bias_lr need a named optimizer (SGD, AdamW, …): ultralytics' default `optimizer: auto` ignores them.",
      default: "{} (ultralytics defaults)",
      example: set("yolo-train:hyperparameters '{\"optimizer\": \"SGD\", \"lr0\": 0.005}'"),
      structured: true,
    },
    {
      key: "datasetMount",
      description: "How the node reads a dataset from S3: `mountpoint` (Mountpoint for S3 with an NVMe cache), `fsx-lustre` or `copy`. Ignored for built-in dataset yamls, which ultralytics downloads.",
      default: DEFAULTS.datasetMount,
      example: set("yolo-train:datasetMount copy"),
      structured: false,
    },
    {
      key: "maxRuntimeHours",
      description: `Hard cap on the run, enforced on the node and by a schedule off the node; above ${MAX_RUNTIME_HOURS.above}, at most ${MAX_RUNTIME_HOURS.max}.`,
      default: `from \`stage\` (debug ${STAGE_PRESETS.debug.maxRuntimeHours}, train ${STAGE_PRESETS.train.maxRuntimeHours}, finetune ${STAGE_PRESETS.finetune.maxRuntimeHours})`,
      example: set("yolo-train:maxRuntimeHours 24"),
      structured: false,
    },
    {
      key: "idleMinutes",
      description: `GPU utilisation below \`idleGpuPercent\` for this many minutes during training means the run is hung: it is stopped and torn down. Whole minutes from ${IDLE_MINUTES.min} to ${IDLE_MINUTES.max}.`,
      default: String(IDLE_MINUTES.default),
      example: set("yolo-train:idleMinutes 30"),
      structured: false,
    },
    {
      key: "idleGpuPercent",
      description: `The idle threshold, percent GPU utilisation, above ${IDLE_GPU_PERCENT.above} and below ${IDLE_GPU_PERCENT.below}.`,
      default: String(IDLE_GPU_PERCENT.default),
      example: set("yolo-train:idleGpuPercent 10"),
      structured: false,
    },
    {
      key: "restartIfCheckpointLost",
      description:
        "`true` or `false`: when no checkpoint the run record names can be restored (corrupt or missing, and no good previous version), train again from the starting weights instead of failing the run. Off by default, so trained epochs are never thrown away without a person deciding it.",
      default: `${RESTART_IF_CHECKPOINT_LOST_DEFAULT} (the run is recorded \`failed\` with the reason and torn down)`,
      example: set("yolo-train:restartIfCheckpointLost true"),
      structured: false,
    },
    {
      key: "budgetUsd",
      description: "Cost limit in USD for this stack, above 0: AWS Budgets alerts on it go to `alertEmail`.",
      default: "none (no budget)",
      example: set("yolo-train:budgetUsd 200"),
      structured: false,
    },
    {
      key: "alertEmail",
      description: "E-mail address for budget, hung-run and starving-GPU alerts (confirm the SNS subscription mail).",
      default: "none (alarms still act, nobody is mailed)",
      example: set("yolo-train:alertEmail ml-team@example.com"),
      structured: false,
    },
    {
      key: "ota",
      description:
        "Over-the-air delivery: `{ modelName, channel, promote: { metric, min, requireImprovement }, bucket, signingKeyArn, modelsPrefix }`. `channel` is `candidate` or `stable`; `promote` gates promotion to `stable` on a detection metric; `bucket` with `signingKeyArn` (a KMS key ARN in the stack's region) publishes into an existing fleet OTA bucket instead of the stack's own.",
      default: `modelName = stack name (lower-case, [a-z0-9-]), channel ${DEFAULTS.otaChannel}, no promotion gate, the stack's own OTA bucket and key`,
      example: set("--path 'yolo-train:ota.promote.min' 0.5"),
      structured: true,
    },
    {
      key: "network",
      description: "An existing network: `{ vpcId: vpc-…, subnetIds: [subnet-…, …] }`.",
      default: "a new VPC",
      example: set("--path 'yolo-train:network.vpcId' vpc-0123456789abcdef0"),
      structured: true,
    },
    {
      key: "image",
      description: "An existing training image to run instead of building `docker/`: `registry/repository[:tag|@sha256:digest]`.",
      default: "build `docker/` and push it to a new ECR repository",
      example: set("yolo-train:image 123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train@sha256:<64 hex>"),
      structured: false,
    },
    {
      key: "progressive",
      description: "Phases `[{ imgsz, epochs }, …]` trained in order (small images first); imgsz never decreases; the last phase's imgsz is the run's `imgsz` and the epochs add up to the run's `epochs`.",
      default: "none (one phase)",
      example: set("--path 'yolo-train:progressive[0].imgsz' 320"),
      structured: true,
    },
    {
      key: "sweep",
      description:
        "A sweep over this config (docs/sweeps.md): `{ method: grid|random, trials, seed, space: { model|imgsz|batch|epochs|<train argument>: [values] or { min, max, log?, step? } }, metric, direction, maxParallel, asha: { minEpochs, reductionFactor, maxEpochs } or off, budgetUsd }`; each trial is this config with its values, checked like it.",
      default: "none (one run); in a sweep: metric mAP50-95(B), maximize, maxParallel 2, seed 0, asha off",
      example: set("yolo-train:sweep '{\"method\": \"grid\", \"space\": {\"imgsz\": [416, 640]}}'"),
      structured: true,
    },
    {
      key: "tracking",
      description: "Experiment tracking: `{ mlflowUri }` (http or https) or `{ wandbProject, wandbApiKey }` with the key a Pulumi secret.",
      default: "off",
      example: set("--secret --path 'yolo-train:tracking.wandbApiKey' <key>"),
      structured: true,
    },
  ].map((doc) => Object.freeze(doc)),
);

/** Names of every known key. */
export const KNOWN_KEYS: readonly string[] = Object.freeze(CONFIG_KEYS.map((k) => k.key));
