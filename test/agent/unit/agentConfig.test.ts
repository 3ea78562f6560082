import { DEFAULTS, effectiveLimits, normaliseEndpoint, parseAgentConfig } from "../../../agent/agentConfig";

describe("parseAgentConfig", () => {
  it("fills every default from docs/node-runtime.md when only the run spec is given", () => {
    const result = parseAgentConfig({ YOLO_TRAIN_RUN_SPEC: "/etc/yolo-train/run-spec.json" });
    expect(result).toEqual({
      ok: true,
      config: {
        runSpecPath: "/etc/yolo-train/run-spec.json",
        scratch: "/scratch",
        trainerCommand: "python /app/train.py",
        gpuQueryCommand: "nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits",
        spotPollMs: 5000,
        gpuPollMs: 30000,
        watchMs: 2000,
        idleAfterMs: null,
        maxRuntimeMs: null,
        stopGraceMs: 10000,
        leaseTtlMs: 90000,
        leaseWaitMs: 900000,
        s3ForcePathStyle: false,
        imdsEndpoint: "http://169.254.169.254",
      },
    });
  });

  it("reads every override", () => {
    const result = parseAgentConfig({
      YOLO_TRAIN_RUN_SPEC: "/spec.json",
      YOLO_TRAIN_SCRATCH: "/nvme",
      YOLO_TRAIN_TRAINER: "node stand-in.js",
      YOLO_TRAIN_GPU_QUERY: "cat /tmp/gpu",
      YOLO_TRAIN_SPOT_POLL_MS: "100",
      YOLO_TRAIN_GPU_POLL_MS: "200",
      YOLO_TRAIN_WATCH_MS: "50",
      YOLO_TRAIN_IDLE_AFTER_MS: "600",
      YOLO_TRAIN_MAX_RUNTIME_MS: "1500",
      YOLO_TRAIN_STOP_GRACE_MS: "0",
      YOLO_TRAIN_LEASE_TTL_MS: "1500",
      YOLO_TRAIN_LEASE_WAIT_MS: "0",
      YOLO_TRAIN_S3_FORCE_PATH_STYLE: "true",
      AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:4567/",
    });
    expect(result.ok && result.config).toEqual({
      runSpecPath: "/spec.json",
      scratch: "/nvme",
      trainerCommand: "node stand-in.js",
      gpuQueryCommand: "cat /tmp/gpu",
      spotPollMs: 100,
      gpuPollMs: 200,
      watchMs: 50,
      idleAfterMs: 600,
      maxRuntimeMs: 1500,
      stopGraceMs: 0,
      leaseTtlMs: 1500,
      leaseWaitMs: 0,
      s3ForcePathStyle: true,
      imdsEndpoint: "http://127.0.0.1:4567",
    });
  });

  it("reports every problem at once, naming the variable and the rule", () => {
    const result = parseAgentConfig({ YOLO_TRAIN_SPOT_POLL_MS: "5s", YOLO_TRAIN_WATCH_MS: "0", YOLO_TRAIN_S3_FORCE_PATH_STYLE: "yes", AWS_EC2_METADATA_SERVICE_ENDPOINT: "169.254.169.254" });
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toHaveLength(5);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^YOLO_TRAIN_RUN_SPEC: must be set/),
        expect.stringMatching(/^YOLO_TRAIN_SPOT_POLL_MS="5s": must be a whole number of milliseconds >= 1/),
        expect.stringMatching(/^YOLO_TRAIN_WATCH_MS="0": must be a whole number of milliseconds >= 1/),
        expect.stringMatching(/^YOLO_TRAIN_S3_FORCE_PATH_STYLE="yes": must be "true" or "false"/),
        expect.stringMatching(/^AWS_EC2_METADATA_SERVICE_ENDPOINT="169.254.169.254": must be an http\(s\) URL/),
      ]),
    );
  });

  it("treats empty variables as unset", () => {
    const result = parseAgentConfig({ YOLO_TRAIN_RUN_SPEC: "/s.json", YOLO_TRAIN_TRAINER: "", YOLO_TRAIN_GPU_POLL_MS: " " });
    expect(result.ok && result.config.trainerCommand).toBe(DEFAULTS.trainerCommand);
    expect(result.ok && result.config.gpuPollMs).toBe(DEFAULTS.gpuPollMs);
  });
});

describe("normaliseEndpoint", () => {
  it.each([
    ["http://169.254.169.254", "http://169.254.169.254"],
    ["http://127.0.0.1:8080/", "http://127.0.0.1:8080"],
    ["http://[fd00:ec2::254]//", "http://[fd00:ec2::254]"],
  ])("%s → %s", (input, expected) => {
    expect(normaliseEndpoint(input)).toBe(expected);
  });
});

describe("effectiveLimits", () => {
  const limits = { idleMinutes: 15, maxRuntimeHours: 2.5, idleGpuPercent: 5 };

  it("converts the spec's limits to milliseconds", () => {
    expect(effectiveLimits({ idleAfterMs: null, maxRuntimeMs: null }, limits)).toEqual({ idleAfterMs: 900_000, maxRuntimeMs: 9_000_000, idleGpuPercent: 5 });
  });

  it("lets the environment override the times but not the threshold", () => {
    expect(effectiveLimits({ idleAfterMs: 600, maxRuntimeMs: 1_500 }, limits)).toEqual({ idleAfterMs: 600, maxRuntimeMs: 1_500, idleGpuPercent: 5 });
  });
});
