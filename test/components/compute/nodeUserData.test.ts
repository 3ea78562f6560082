import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import {
  BOOTSTRAP_LOG_FILE,
  CONTAINER_UID,
  cloudWatchAgentConfig,
  ecrRegistryOf,
  MOUNTPOINT_S3_RPM_URL,
  MOUNTPOINT_S3_VERSION,
  renderNodeUserData,
  USER_DATA_MAX_BYTES,
  type DatasetMountSpec,
  type NodeBootstrapInput,
} from "../../../components/compute/nodeUserData";
import { parseRunSpec, type RunSpec } from "../../../runspec/schema";
import { runSpecDocument } from "../../runspec/experimentConfig";

const ECR_IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/yolo-train@sha256:" + "a".repeat(64);
const mountedSpec: RunSpec = parseRunSpec(runSpecDocument());
const builtinSpec: RunSpec = parseRunSpec(runSpecDocument({ data: { kind: "builtin", yaml: "coco8.yaml" } }));

const MOUNTS: Record<DatasetMountSpec["kind"], DatasetMountSpec> = {
  none: { kind: "none" },
  mountpoint: { kind: "mountpoint", bucketName: "yolo-train-dev-datasets", prefix: "datasets/widgets/" },
  copy: { kind: "copy", bucketName: "yolo-train-dev-datasets", prefix: "datasets/widgets/" },
  "fsx-lustre": { kind: "fsx-lustre", dnsName: "fs-0123456789abcdef0.fsx.us-west-2.amazonaws.com", mountName: "abcdefgh" },
};

function inputFor(kind: DatasetMountSpec["kind"], extra: Partial<NodeBootstrapInput> = {}): NodeBootstrapInput {
  return {
    datasetMount: MOUNTS[kind],
    imageUri: ECR_IMAGE,
    runSpec: kind === "none" ? builtinSpec : mountedSpec,
    logGroupName: "/yolo-train/yolo-train-dev-yolov8n-widgets-0123456789",
    ...extra,
  };
}

/** Runs shellcheck on a script; fails (never skips) when shellcheck is not installed. */
function shellcheck(script: string): { status: number | null; output: string } {
  const result = spawnSync("shellcheck", ["-s", "bash", "-"], { input: script, encoding: "utf8" });
  if (result.error) {
    throw new Error(`shellcheck could not run (${result.error.message}); install it: apt-get install -y shellcheck`);
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The text between `<<'NAME'` and the closing `NAME` line. */
function heredoc(script: string, name: string): string {
  const match = new RegExp(`<<'${name}'\\n([\\s\\S]*?)\\n${name}\\n`).exec(script);
  if (!match) throw new Error(`no heredoc ${name}`);
  return match[1]!;
}

const KINDS = Object.keys(MOUNTS) as DatasetMountSpec["kind"][];

describe("renderNodeUserData", () => {
  it.each(KINDS)("renders the %s bootstrap as a stable script (snapshot)", (kind) => {
    expect(renderNodeUserData(inputFor(kind))).toMatchSnapshot();
  });

  it.each(KINDS)("renders a %s bootstrap that shellcheck passes without findings", (kind) => {
    const { status, output } = shellcheck(renderNodeUserData(inputFor(kind)));
    expect(output).toBe("");
    expect(status).toBe(0);
  });

  it.each(KINDS)("starts the %s bootstrap strict, logging to the bootstrap log", (kind) => {
    const lines = renderNodeUserData(inputFor(kind)).split("\n");
    expect(lines[0]).toBe("#!/bin/bash");
    expect(lines).toContain("set -euo pipefail");
    expect(lines).toContain(`readonly LOG_FILE='${BOOTSTRAP_LOG_FILE}'`);
    expect(lines).toContain('exec > >(tee -a "$LOG_FILE") 2>&1');
  });

  it("carries the run spec base64-encoded, decoding to exactly the validated spec", () => {
    const script = renderNodeUserData(inputFor("mountpoint"));
    const encoded = /^readonly RUN_SPEC_B64='([A-Za-z0-9+/=]+)'$/m.exec(script)?.[1];
    expect(encoded).toBeDefined();
    const decoded = JSON.parse(Buffer.from(encoded!, "base64").toString("utf8"));
    expect(decoded).toEqual(mountedSpec);
    expect(script).toContain('base64 -d > "$RUN_SPEC_DIR/run-spec.json"');
    // No JSON from the spec reaches the shell unencoded.
    expect(script).not.toContain('"artifacts"');
  });

  it("writes a CloudWatch agent config with nvidia_gpu metrics, group dimensions and the bootstrap log", () => {
    const script = renderNodeUserData(inputFor("none"));
    const config = JSON.parse(heredoc(script, "CWAGENT_CONFIG"));
    expect(config).toEqual(cloudWatchAgentConfig("/yolo-train/yolo-train-dev-yolov8n-widgets-0123456789"));
    expect(config.metrics.namespace).toBe("CWAgent");
    expect(config.metrics.metrics_collected.nvidia_gpu).toEqual({
      measurement: ["utilization_gpu", "utilization_memory", "memory_used", "memory_total", "temperature_gpu", "power_draw"],
      metrics_collection_interval: 60,
    });
    expect(config.metrics.append_dimensions).toEqual({ AutoScalingGroupName: "${aws:AutoScalingGroupName}", InstanceId: "${aws:InstanceId}" });
    expect(config.metrics.aggregation_dimensions).toContainEqual(["AutoScalingGroupName"]);
    expect(config.logs.logs_collected.files.collect_list).toEqual([
      { file_path: BOOTSTRAP_LOG_FILE, log_group_name: "/yolo-train/yolo-train-dev-yolov8n-widgets-0123456789", log_stream_name: "{instance_id}/bootstrap" },
    ]);
    expect(script).toContain("amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:/opt/aws/amazon-cloudwatch-agent/etc/yolo-train-agent.json");
    expect(script).toContain("dnf install -y amazon-cloudwatch-agent");
    // Quoted heredoc: the shell leaves ${aws:…} for the agent.
    expect(script).toContain("<<'CWAGENT_CONFIG'");
  });

  it("starts the CloudWatch agent before mounting, so a failed mount still reports and ships its log", () => {
    const script = renderNodeUserData(inputFor("mountpoint"));
    expect(script.indexOf("fetch-config")).toBeLessThan(script.indexOf("mount-s3 \"$DATASET_BUCKET\""));
  });

  it("mounts S3 with a pinned Mountpoint, read-only, with the prefix and a cache on scratch", () => {
    const script = renderNodeUserData(inputFor("mountpoint"));
    expect(MOUNTPOINT_S3_RPM_URL).toBe(`https://s3.amazonaws.com/mountpoint-s3-release/${MOUNTPOINT_S3_VERSION}/x86_64/mount-s3-${MOUNTPOINT_S3_VERSION}-x86_64.rpm`);
    expect(script).toContain(`dnf install -y '${MOUNTPOINT_S3_RPM_URL}'`);
    expect(script).toContain(`readonly MOUNTPOINT_VERSION='${MOUNTPOINT_S3_VERSION}'`);
    expect(script).toMatch(/case "\$installed" in\n  \*"\$MOUNTPOINT_VERSION"\*\) .*\n  \*\) .*exit 1 ;;/);
    expect(script).toContain(
      'mount-s3 "$DATASET_BUCKET" "$DATASET_DIR" --read-only --prefix "$DATASET_PREFIX" --cache "$CACHE_DIR" --max-cache-size "$cache_mib" --allow-other --region "$REGION"',
    );
    expect(script).toContain("readonly DATASET_PREFIX='datasets/widgets/'");
    expect(script).toContain("SCRATCH_ROOT='/opt/dlami/nvme/yolo-train'");
    expect(script).toContain("SCRATCH_ROOT=/var/lib/yolo-train");
  });

  it("mounts a whole bucket without --prefix, and in the bucket's own region when given", () => {
    const script = renderNodeUserData(
      inputFor("mountpoint", { datasetMount: { kind: "mountpoint", bucketName: "acme-data", prefix: "", bucketRegion: "eu-west-1" } }),
    );
    expect(script).not.toContain("--prefix");
    expect(script).toContain("--allow-other --region 'eu-west-1'");
  });

  it("copies the dataset onto scratch and bind-mounts it read-only", () => {
    const script = renderNodeUserData(inputFor("copy"));
    expect(script).toContain('aws s3 sync "s3://$DATASET_BUCKET/$DATASET_PREFIX" "$COPY_DIR" --only-show-errors --no-progress');
    expect(script).toContain('mount --bind "$COPY_DIR" "$DATASET_DIR"');
    expect(script).toContain('mount -o remount,bind,ro "$DATASET_DIR"');
    expect(script).not.toContain("mount-s3");
  });

  it("mounts FSx for Lustre with the AL2023 client", () => {
    const script = renderNodeUserData(inputFor("fsx-lustre"));
    expect(script).toContain("dnf install -y lustre-client");
    expect(script).toContain('mount -t lustre -o relatime,flock "$FSX_DNS_NAME@tcp:/$FSX_MOUNT_NAME" "$DATASET_DIR"');
    expect(script).toContain("readonly FSX_DNS_NAME='fs-0123456789abcdef0.fsx.us-west-2.amazonaws.com'");
    expect(script).toContain("readonly FSX_MOUNT_NAME='abcdefgh'");
  });

  it("mounts nothing for a built-in dataset", () => {
    const script = renderNodeUserData(inputFor("none"));
    expect(script).not.toMatch(/mount-s3|lustre|mount --bind/);
    expect(script).not.toMatch(/aws s3 sync \S+ "\$DATASET_DIR"|DATASET_DIR.*aws s3 sync/);
  });

  it("logs in to the image's ECR registry, in the registry's region, before pulling", () => {
    const script = renderNodeUserData(inputFor("none"));
    const login = "aws ecr get-login-password --region 'us-west-2' | docker login --username AWS --password-stdin '123456789012.dkr.ecr.us-west-2.amazonaws.com'";
    expect(script).toContain(login);
    expect(script.indexOf(login)).toBeLessThan(script.indexOf('docker pull "$IMAGE_URI"'));
  });

  it("skips the ECR login for an image elsewhere", () => {
    const script = renderNodeUserData(inputFor("none", { imageUri: "ghcr.io/acme/yolo-train:1.0.0" }));
    expect(script).not.toContain("ecr get-login-password");
    expect(script).toContain("readonly IMAGE_URI='ghcr.io/acme/yolo-train:1.0.0'");
    expect(ecrRegistryOf("ghcr.io/acme/yolo-train:1.0.0")).toBeUndefined();
    expect(ecrRegistryOf("123456789012.dkr.ecr.eu-central-1.amazonaws.com/x:1")).toEqual({ host: "123456789012.dkr.ecr.eu-central-1.amazonaws.com", region: "eu-central-1" });
  });

  it("runs the image with all GPUs, host IPC, awslogs per instance, the mounts and the run spec", () => {
    const script = renderNodeUserData(inputFor("mountpoint"));
    const run = script.slice(script.indexOf("docker run"), script.indexOf('"$IMAGE_URI" || status=$?'));
    for (const part of [
      "--rm",
      "--init",
      "--stop-timeout 90",
      "--gpus all",
      "--ipc=host",
      "--log-driver awslogs",
      '--log-opt awslogs-group="$LOG_GROUP"',
      '--log-opt awslogs-region="$REGION"',
      '--log-opt awslogs-stream="$INSTANCE_ID"',
      '-v "$DATASET_DIR":/data:ro',
      '-v "$RUN_SPEC_DIR":/etc/yolo-train:ro',
      '-v "$SCRATCH_DIR":/scratch',
      "-e YOLO_TRAIN_RUN_SPEC=/etc/yolo-train/run-spec.json",
    ]) {
      expect(run).toContain(part);
    }
  });

  it("keeps the agent's exit status: logged, and the script's own", () => {
    const script = renderNodeUserData(inputFor("none"));
    expect(script).toContain('"$IMAGE_URI" || status=$?\n  log "run agent exited with status $status"\n');
    expect(script.trimEnd().endsWith('exit "$status"')).toBe(true);
  });

  it("reads region and instance id over IMDSv2", () => {
    const script = renderNodeUserData(inputFor("none"));
    expect(script).toContain("-X PUT http://169.254.169.254/latest/api/token");
    expect(script).toContain('REGION="$(imds placement/region)"');
    expect(script).toContain('INSTANCE_ID="$(imds instance-id)"');
  });

  it.each<[string, Partial<NodeBootstrapInput>, RegExp]>([
    ["a mounted dataset with nothing mounted", { datasetMount: { kind: "none" }, runSpec: mountedSpec }, /datasetMount\.kind is "none"/],
    ["a built-in dataset with a mount", { datasetMount: MOUNTS.copy, runSpec: builtinSpec }, /built-in coco8\.yaml.*use "none"/],
    ["a bucket name with capitals", { datasetMount: { kind: "copy", bucketName: "Acme", prefix: "" } }, /bucketName "Acme"/],
    ["a prefix without the trailing slash", { datasetMount: { kind: "mountpoint", bucketName: "acme-data", prefix: "datasets/widgets" } }, /prefix "datasets\/widgets"/],
    ["an image with a quote", { imageUri: "acme/x:1'; rm -rf /" }, /imageUri/],
    ["a log group with spaces", { logGroupName: "my logs" }, /logGroupName/],
    ["an invalid run spec", { runSpec: { ...mountedSpec, runId: "BAD" } as RunSpec }, /runId/],
  ])("refuses %s", (_what, change, message) => {
    expect(() => renderNodeUserData({ ...inputFor("mountpoint"), ...change })).toThrow(message);
  });

  it("stays under EC2's 16 KB user data limit with a large run spec", () => {
    const hyperparameters = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`arg_${i}`, 0.123456789]));
    const spec = parseRunSpec(runSpecDocument({ train: { epochs: 10, imgsz: 640, batch: 16, gpus: 8, hyperparameters } }));
    const script = renderNodeUserData({ ...inputFor("mountpoint"), runSpec: spec });
    expect(Buffer.byteLength(script)).toBeLessThan(USER_DATA_MAX_BYTES);
  });
});

/**
 * Runs the bootstrap's last part, from "# Train." to the end, in bash with `docker`, `aws`,
 * `sleep` and `log` replaced by recorders: the host's answer to each agent exit status is real
 * behaviour, checked by running it.
 */
function runHostLoop(agentStatuses: number[]): { exitStatus: number | null; calls: string[] } {
  const script = renderNodeUserData(inputFor("none"));
  const loop = script.slice(script.indexOf("# Train."));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "yolo-train-host-"));
  fs.writeFileSync(path.join(dir, "statuses"), agentStatuses.join("\n") + "\n");
  const stubs = `set -euo pipefail
CALLS=${JSON.stringify(path.join(dir, "calls"))}
STATUSES=${JSON.stringify(path.join(dir, "statuses"))}
INSTANCE_ID=i-0123456789abcdef0 LOG_GROUP=/lg REGION=us-west-2 IMAGE_URI=img DATASET_DIR=/d RUN_SPEC_DIR=/r SCRATCH_DIR=/s
log() { :; }
sleep() { :; }
docker() {
  echo "docker run" >> "$CALLS"
  local next; next="$(head -n 1 "$STATUSES")"; sed -i 1d "$STATUSES"
  return "$next"
}
aws() { cat > /dev/null; echo "aws $*" >> "$CALLS"; }
`;
  const result = spawnSync("bash", ["-c", stubs + loop], { encoding: "utf8", input: "" });
  const callsFile = path.join(dir, "calls");
  const calls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").trim().split("\n") : [];
  fs.rmSync(dir, { recursive: true, force: true });
  return { exitStatus: result.status, calls };
}

const TERMINATE = "aws autoscaling terminate-instance-in-auto-scaling-group --instance-id i-0123456789abcdef0 --should-decrement-desired-capacity";
const crashRecord = (attempt: number) => expect.stringMatching(new RegExp(`^aws s3 cp - s3://.*/node-events/i-0123456789abcdef0-${attempt}\\.json`));

describe("the host after the run agent exits", () => {
  it("leaves teardown to the agent when the run ended (status 0)", () => {
    expect(runHostLoop([0])).toEqual({ exitStatus: 0, calls: ["docker run"] });
  });

  it("leaves the node to Auto Scaling on a spot interruption (status 75): the replacement resumes", () => {
    expect(runHostLoop([75])).toEqual({ exitStatus: 0, calls: ["docker run"] });
  });

  it("tears down at once on an invalid run spec (status 64), without retrying", () => {
    expect(runHostLoop([64])).toEqual({ exitStatus: 64, calls: ["docker run", TERMINATE] });
  });

  it("records an agent crash and starts the agent again, which then finishes", () => {
    expect(runHostLoop([70, 0])).toEqual({ exitStatus: 0, calls: ["docker run", crashRecord(1), "docker run"] });
  });

  it("records every crash and tears down itself after maxAttempts", () => {
    const { exitStatus, calls } = runHostLoop([70, 137, 70, 0]);
    expect(exitStatus).toBe(70);
    expect(calls).toEqual(["docker run", crashRecord(1), "docker run", crashRecord(2), "docker run", crashRecord(3), TERMINATE]);
  });
});

describe("the scratch folder", () => {
  it("belongs to the user the training image runs as", () => {
    const dockerfile = fs.readFileSync(path.resolve(__dirname, "..", "..", "..", "docker", "Dockerfile"), "utf8");
    const user = /^USER\s+(\d+):(\d+)\s*$/m.exec(dockerfile);
    expect(user?.slice(1)).toEqual([String(CONTAINER_UID), String(CONTAINER_UID)]);
    expect(renderNodeUserData(inputFor("none"))).toContain(`chown ${CONTAINER_UID}:${CONTAINER_UID} "$SCRATCH_DIR"`);
  });
});
