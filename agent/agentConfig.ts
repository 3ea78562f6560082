/**
 * The agent's settings from its environment (docs/node-runtime.md, "Agent configuration").
 * Pure: reads the env object it is given, gathers every problem at once.
 */
export interface AgentConfig {
  readonly runSpecPath: string;
  readonly scratch: string;
  readonly trainerCommand: string;
  readonly gpuQueryCommand: string;
  readonly spotPollMs: number;
  readonly gpuPollMs: number;
  readonly watchMs: number;
  /** Overrides `limits.idleMinutes` when set. */
  readonly idleAfterMs: number | null;
  /** Overrides `limits.maxRuntimeHours` when set. */
  readonly maxRuntimeMs: number | null;
  readonly stopGraceMs: number;
  /** How long the run's lease lasts unless renewed (renewed every third of it). */
  readonly leaseTtlMs: number;
  /** How long an agent that finds the lease held elsewhere waits for it before it gives up. */
  readonly leaseWaitMs: number;
  readonly s3ForcePathStyle: boolean;
  /** `AWS_EC2_METADATA_SERVICE_ENDPOINT` without trailing slashes. */
  readonly imdsEndpoint: string;
}

export const DEFAULTS = {
  scratch: "/scratch",
  trainerCommand: "python /app/train.py",
  gpuQueryCommand: "nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits",
  spotPollMs: 5000,
  gpuPollMs: 30000,
  watchMs: 2000,
  stopGraceMs: 10000,
  // Longer than a slow S3 minute, short enough that a dead node's run is taken over within two.
  leaseTtlMs: 90_000,
  // A spot warning, a slow shutdown and a lease TTL, with room: past it the lease is not a leftover.
  leaseWaitMs: 15 * 60_000,
  imdsEndpoint: "http://169.254.169.254",
} as const;

export type ConfigResult = { readonly ok: true; readonly config: AgentConfig } | { readonly ok: false; readonly problems: readonly string[] };

type Env = Readonly<Record<string, string | undefined>>;

/** `http://host:port/` → `http://host:port`; the IMDS paths are appended with their own leading slash. */
export function normaliseEndpoint(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

export function parseAgentConfig(env: Env): ConfigResult {
  const problems: string[] = [];
  const text = (name: string, fallback: string): string => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? fallback : v;
  };
  const millis = (name: string, fallback: number | null, min: number): number | null => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      problems.push(`${name}=${JSON.stringify(raw)}: must be a whole number of milliseconds >= ${min}`);
      return fallback;
    }
    return n;
  };
  const runSpecPath = env.YOLO_TRAIN_RUN_SPEC ?? "";
  if (runSpecPath.trim() === "") problems.push("YOLO_TRAIN_RUN_SPEC: must be set to the path of the run spec JSON");
  const forcePathStyleRaw = (env.YOLO_TRAIN_S3_FORCE_PATH_STYLE ?? "").trim().toLowerCase();
  if (!["", "true", "false", "1", "0"].includes(forcePathStyleRaw)) problems.push(`YOLO_TRAIN_S3_FORCE_PATH_STYLE=${JSON.stringify(env.YOLO_TRAIN_S3_FORCE_PATH_STYLE)}: must be "true" or "false"`);
  const imdsEndpoint = normaliseEndpoint(text("AWS_EC2_METADATA_SERVICE_ENDPOINT", DEFAULTS.imdsEndpoint));
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(imdsEndpoint)) problems.push(`AWS_EC2_METADATA_SERVICE_ENDPOINT=${JSON.stringify(imdsEndpoint)}: must be an http(s) URL`);
  const config: AgentConfig = {
    runSpecPath,
    scratch: text("YOLO_TRAIN_SCRATCH", DEFAULTS.scratch),
    trainerCommand: text("YOLO_TRAIN_TRAINER", DEFAULTS.trainerCommand),
    gpuQueryCommand: text("YOLO_TRAIN_GPU_QUERY", DEFAULTS.gpuQueryCommand),
    spotPollMs: millis("YOLO_TRAIN_SPOT_POLL_MS", DEFAULTS.spotPollMs, 1) ?? DEFAULTS.spotPollMs,
    gpuPollMs: millis("YOLO_TRAIN_GPU_POLL_MS", DEFAULTS.gpuPollMs, 1) ?? DEFAULTS.gpuPollMs,
    watchMs: millis("YOLO_TRAIN_WATCH_MS", DEFAULTS.watchMs, 1) ?? DEFAULTS.watchMs,
    idleAfterMs: millis("YOLO_TRAIN_IDLE_AFTER_MS", null, 1),
    maxRuntimeMs: millis("YOLO_TRAIN_MAX_RUNTIME_MS", null, 1),
    stopGraceMs: millis("YOLO_TRAIN_STOP_GRACE_MS", DEFAULTS.stopGraceMs, 0) ?? DEFAULTS.stopGraceMs,
    leaseTtlMs: millis("YOLO_TRAIN_LEASE_TTL_MS", DEFAULTS.leaseTtlMs, 300) ?? DEFAULTS.leaseTtlMs,
    leaseWaitMs: millis("YOLO_TRAIN_LEASE_WAIT_MS", DEFAULTS.leaseWaitMs, 0) ?? DEFAULTS.leaseWaitMs,
    s3ForcePathStyle: forcePathStyleRaw === "true" || forcePathStyleRaw === "1",
    imdsEndpoint,
  };
  return problems.length === 0 ? { ok: true, config } : { ok: false, problems };
}

/** The limits the agent enforces: the spec's, unless the environment overrides them. */
export function effectiveLimits(
  config: Pick<AgentConfig, "idleAfterMs" | "maxRuntimeMs">,
  limits: { readonly idleMinutes: number; readonly maxRuntimeHours: number; readonly idleGpuPercent: number },
): { readonly idleAfterMs: number; readonly maxRuntimeMs: number; readonly idleGpuPercent: number } {
  return {
    idleAfterMs: config.idleAfterMs ?? limits.idleMinutes * 60_000,
    maxRuntimeMs: config.maxRuntimeMs ?? Math.round(limits.maxRuntimeHours * 3_600_000),
    idleGpuPercent: limits.idleGpuPercent,
  };
}
