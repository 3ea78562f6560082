import { KEY_PREFIX_PATTERN } from "../../runspec/bucketLayout";
import { CLOUDWATCH_LOG_GROUP_NAME_PATTERN, ECR_REGISTRY_HOST_PATTERN, isAwsRegion, isS3BucketName } from "../../runspec/awsPatterns";
import { parseRunSpec, type RunSpec } from "../../runspec/schema";
import { DLAMI_NVME_DIR } from "./dlami";
import { CWAGENT_NAMESPACE, REQUIRED_AGGREGATION_DIMENSIONS, REQUIRED_APPEND_DIMENSIONS } from "./gpuMetrics";

/** How the node makes the dataset visible at {@link DATASET_MOUNT_DIR} (the container's `/data`). */
export type DatasetMountSpec =
  /** A built-in ultralytics dataset: ultralytics downloads it; nothing to mount. */
  | { readonly kind: "none" }
  /** Mountpoint for Amazon S3, read-only, caching what it reads on the instance store. */
  | {
      readonly kind: "mountpoint";
      readonly bucketName: string;
      /** Key prefix exposed at the mount root: "" or ending with "/". */
      readonly prefix: string;
      /** The bucket's region, when it is not the node's. */
      readonly bucketRegion?: string;
    }
  /** `aws s3 sync` of the prefix onto the instance store before training, then a read-only bind mount. */
  | { readonly kind: "copy"; readonly bucketName: string; readonly prefix: string }
  /** An FSx for Lustre file system linked to the dataset prefix (see `LustreDataset`). */
  | { readonly kind: "fsx-lustre"; readonly dnsName: string; readonly mountName: string };

export type DatasetMountKind = DatasetMountSpec["kind"];

/** Everything the node bootstrap needs; plain values (resolve Pulumi outputs first). */
export interface NodeBootstrapInput {
  readonly datasetMount: DatasetMountSpec;
  /** The training image, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train@sha256:…`. */
  readonly imageUri: string;
  /** Written to {@link RUN_SPEC_FILE}; checked with the run spec schema before rendering. */
  readonly runSpec: RunSpec;
  /** Log group for the bootstrap log and the container's output. */
  readonly logGroupName: string;
}

export const BOOTSTRAP_LOG_FILE = "/var/log/yolo-train-bootstrap.log";
/** Host path of the dataset; the container sees it read-only at `/data`. */
export const DATASET_MOUNT_DIR = "/mnt/dataset";
export const RUN_SPEC_HOST_DIR = "/etc/yolo-train";
export const RUN_SPEC_FILE = `${RUN_SPEC_HOST_DIR}/run-spec.json`;
/** Environment variable naming the run spec file inside the container. */
export const RUN_SPEC_ENV = "YOLO_TRAIN_RUN_SPEC";
/** Container name on the node, for `docker logs` / `docker inspect` over SSM. */
export const CONTAINER_NAME = "yolo-train";

/** The training image's user and group id (docker/Dockerfile `USER 1000:1000`). */
export const CONTAINER_UID = 1000;

/** Seconds `docker stop` waits for the agent before SIGKILL: inside the 2-minute spot warning. */
export const AGENT_STOP_TIMEOUT_SECONDS = 90;

/** The run agent's exit statuses (docs/node-runtime.md): what the host does after each. */
export const AGENT_EXIT = { done: 0, badRunSpec: 64, internalError: 70, interrupted: 75 } as const;

/**
 * Mountpoint for Amazon S3, pinned: the bootstrap installs this release from the official
 * release bucket and refuses to continue if `mount-s3 --version` reports another.
 * @see https://github.com/awslabs/mountpoint-s3/releases
 */
export const MOUNTPOINT_S3_VERSION = "1.23.0";
export const MOUNTPOINT_S3_RPM_URL = `https://s3.amazonaws.com/mountpoint-s3-release/${MOUNTPOINT_S3_VERSION}/x86_64/mount-s3-${MOUNTPOINT_S3_VERSION}-x86_64.rpm`;

/** GPU measurements the CloudWatch agent publishes (as `nvidia_smi_<name>` in `CWAgent`). */
export const NVIDIA_GPU_MEASUREMENTS: readonly string[] = [
  "utilization_gpu",
  "utilization_memory",
  "memory_used",
  "memory_total",
  "temperature_gpu",
  "power_draw",
];

/** EC2 user data is limited to 16 KB before base64. */
export const USER_DATA_MAX_BYTES = 16 * 1024;

const CWAGENT_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl";
const CWAGENT_CONFIG_DIR = "/opt/aws/amazon-cloudwatch-agent/etc";
const CWAGENT_CONFIG_FILE = `${CWAGENT_CONFIG_DIR}/yolo-train-agent.json`;

/**
 * The CloudWatch agent config of a node: `nvidia_gpu` metrics every 60 s with the group's
 * dimensions (the contract in `gpuMetrics.ts`), and the bootstrap log shipped to the run's
 * log group. `${aws:…}` placeholders are resolved by the agent, not by the shell.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-NVIDIA-GPU.html
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-Configuration-File-Details.html
 */
export function cloudWatchAgentConfig(logGroupName: string): Record<string, unknown> {
  return {
    agent: { metrics_collection_interval: 60, run_as_user: "root" },
    metrics: {
      namespace: CWAGENT_NAMESPACE,
      append_dimensions: { ...REQUIRED_APPEND_DIMENSIONS },
      aggregation_dimensions: REQUIRED_AGGREGATION_DIMENSIONS.map((dims) => [...dims]),
      metrics_collected: {
        nvidia_gpu: { measurement: [...NVIDIA_GPU_MEASUREMENTS], metrics_collection_interval: 60 },
      },
    },
    logs: {
      logs_collected: {
        files: {
          collect_list: [{ file_path: BOOTSTRAP_LOG_FILE, log_group_name: logGroupName, log_stream_name: "{instance_id}/bootstrap" }],
        },
      },
    },
  };
}

/** The ECR registry host of an image URI, or undefined when the image is elsewhere. */
export function ecrRegistryOf(imageUri: string): { readonly host: string; readonly region: string } | undefined {
  const host = imageUri.split("/")[0]!;
  const region = imageUri.includes("/") ? ECR_REGISTRY_HOST_PATTERN.exec(host)?.groups?.region : undefined;
  return region === undefined ? undefined : { host, region };
}

/** Every problem with a bootstrap input, one line each (empty when valid). */
export function nodeBootstrapProblems(input: NodeBootstrapInput): string[] {
  const problems: string[] = [];
  if (!/^[^\s'"\\$`]+$/.test(input.imageUri)) {
    problems.push(`imageUri ${JSON.stringify(input.imageUri)} must be an image reference without spaces, quotes, '$' or backslashes`);
  }
  if (!CLOUDWATCH_LOG_GROUP_NAME_PATTERN.test(input.logGroupName)) {
    problems.push(`logGroupName ${JSON.stringify(input.logGroupName)} must be 1-512 characters of A-Z, a-z, 0-9, '.', '_', '/', '#' and '-'`);
  }
  const mount = input.datasetMount;
  if (mount.kind === "mountpoint" || mount.kind === "copy") {
    if (!isS3BucketName(mount.bucketName)) {
      problems.push(`datasetMount.bucketName ${JSON.stringify(mount.bucketName)} must be an S3 bucket name`);
    }
    // "" or `a/b/` (the one key-prefix rule): safe in shell, IAM resources and `--prefix` (which must end with "/").
    if (!KEY_PREFIX_PATTERN.test(mount.prefix)) {
      problems.push(`datasetMount.prefix ${JSON.stringify(mount.prefix)} must be "" or a key prefix ending with "/", e.g. "datasets/widgets/"`);
    }
    if (mount.kind === "mountpoint" && mount.bucketRegion !== undefined && !isAwsRegion(mount.bucketRegion)) {
      problems.push(`datasetMount.bucketRegion ${JSON.stringify(mount.bucketRegion)} must be an AWS region like "us-east-1"`);
    }
  }
  if (mount.kind === "fsx-lustre") {
    if (!/^[a-z0-9.-]+$/.test(mount.dnsName)) problems.push(`datasetMount.dnsName ${JSON.stringify(mount.dnsName)} must be a DNS name`);
    if (!/^[A-Za-z0-9]+$/.test(mount.mountName)) problems.push(`datasetMount.mountName ${JSON.stringify(mount.mountName)} must be the file system's mount name`);
  }
  try {
    const spec = parseRunSpec(input.runSpec);
    if (spec.data.kind === "mounted" && mount.kind === "none") {
      problems.push(`runSpec.data reads ${spec.data.yamlPath} from the dataset mount, but datasetMount.kind is "none"`);
    }
    if (spec.data.kind === "builtin" && mount.kind !== "none") {
      problems.push(`runSpec.data is the built-in ${spec.data.yaml}, but datasetMount.kind is "${mount.kind}"; use "none"`);
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
  return problems;
}

/**
 * The user data script of a GPU node (Deep Learning Base OSS Nvidia Driver GPU AMI, Amazon
 * Linux 2023). Pure. In order: log to {@link BOOTSTRAP_LOG_FILE}; read region and instance id
 * from IMDSv2; pick scratch space on the NVMe instance store (or the root volume); start the
 * CloudWatch agent (GPU metrics + this log) first, so a node that fails later still reports an
 * idle GPU and ships its log; mount the dataset; write the run spec; log in to ECR when the
 * image is there; pull; run the image with the GPUs, the dataset read-only at `/data`, the run
 * spec and scratch; exit with the container's status.
 *
 * Every value is validated, then single-quoted into shell variables at the top; the run spec
 * travels base64-encoded, so no JSON reaches the shell parser. Throws on invalid input.
 */
export function renderNodeUserData(input: NodeBootstrapInput): string {
  const problems = nodeBootstrapProblems(input);
  if (problems.length > 0) {
    throw new Error(`Cannot render the node bootstrap; ${problems.length} problem(s):\n` + problems.map((p) => `  - ${p}`).join("\n"));
  }
  const runSpec = parseRunSpec(input.runSpec);
  const runSpecBase64 = Buffer.from(JSON.stringify(runSpec), "utf8").toString("base64");
  const script = [
    header(input, runSpecBase64),
    imdsSection(),
    scratchSection(),
    cloudWatchAgentSection(input.logGroupName),
    datasetSection(input.datasetMount),
    runSpecSection(),
    imageSection(input.imageUri),
    runSection(runSpec),
    finishSection(),
  ].join("\n");
  const bytes = Buffer.byteLength(script, "utf8");
  if (bytes > USER_DATA_MAX_BYTES) {
    throw new Error(`The node bootstrap is ${bytes} bytes; EC2 user data is limited to ${USER_DATA_MAX_BYTES}. Shorten hyperparameters or names.`);
  }
  return script;
}

function header(i: NodeBootstrapInput, runSpecBase64: string): string {
  return `#!/bin/bash
# yolo-train GPU node bootstrap, rendered by yolo-train (components/compute/nodeUserData.ts).
# Run ${i.runSpec.runId}: mount the dataset, start GPU metrics, run the training image.
set -euo pipefail

readonly LOG_FILE=${shq(BOOTSTRAP_LOG_FILE)}
exec > >(tee -a "$LOG_FILE") 2>&1

log() { printf '%s yolo-train-bootstrap: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
trap 'status=$?; log "failed at line $LINENO with status $status"' ERR

readonly IMAGE_URI=${shq(i.imageUri)}
readonly LOG_GROUP=${shq(i.logGroupName)}
readonly RUN_SPEC_B64=${shq(runSpecBase64)}
readonly DATASET_DIR=${shq(DATASET_MOUNT_DIR)}
readonly RUN_SPEC_DIR=${shq(RUN_SPEC_HOST_DIR)}
`;
}

function imdsSection(): string {
  return `# Instance identity, over IMDSv2.
imds() {
  local token
  token="$(curl -sS --fail --retry 5 -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')"
  curl -sS --fail --retry 5 -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}
REGION="$(imds placement/region)"
INSTANCE_ID="$(imds instance-id)"
readonly REGION INSTANCE_ID
export AWS_DEFAULT_REGION="$REGION"
log "bootstrap of $INSTANCE_ID in $REGION"
`;
}

function scratchSection(): string {
  return `# Scratch space: the NVMe instance store when the type has one (the DLAMI mounts it), else the root volume.
if mountpoint -q ${shq(DLAMI_NVME_DIR)}; then
  SCRATCH_ROOT=${shq(`${DLAMI_NVME_DIR}/yolo-train`)}
else
  log "no instance store at ${DLAMI_NVME_DIR}; using the root volume for scratch"
  SCRATCH_ROOT=/var/lib/yolo-train
fi
readonly SCRATCH_ROOT
readonly SCRATCH_DIR="$SCRATCH_ROOT/scratch"
mkdir -p "$SCRATCH_DIR" "$DATASET_DIR" "$RUN_SPEC_DIR"
# The container runs as uid:gid 1000:1000 (docker/Dockerfile) and writes its work under /scratch.
chown ${CONTAINER_UID}:${CONTAINER_UID} "$SCRATCH_DIR"
`;
}

function cloudWatchAgentSection(logGroupName: string): string {
  const config = JSON.stringify(cloudWatchAgentConfig(logGroupName), null, 2);
  return `# CloudWatch agent: GPU metrics for the idle alarm and dashboard, and this log.
if [ ! -x ${CWAGENT_CTL} ]; then
  log "installing the CloudWatch agent"
  dnf install -y amazon-cloudwatch-agent
fi
mkdir -p ${CWAGENT_CONFIG_DIR}
cat > ${CWAGENT_CONFIG_FILE} <<'CWAGENT_CONFIG'
${config}
CWAGENT_CONFIG
${CWAGENT_CTL} -a fetch-config -m ec2 -s -c file:${CWAGENT_CONFIG_FILE}
log "CloudWatch agent started"
`;
}

function datasetSection(mount: DatasetMountSpec): string {
  switch (mount.kind) {
    case "none":
      return `# Dataset: built into ultralytics, downloaded by the trainer; nothing to mount.
log "built-in dataset: nothing to mount"
`;
    case "mountpoint": {
      const prefixFlag = mount.prefix === "" ? "" : ` --prefix "$DATASET_PREFIX"`;
      const region = mount.bucketRegion === undefined ? `"$REGION"` : shq(mount.bucketRegion);
      return `# Dataset: Mountpoint for Amazon S3 ${MOUNTPOINT_S3_VERSION} (pinned), read-only, cached on scratch.
readonly DATASET_BUCKET=${shq(mount.bucketName)}
readonly DATASET_PREFIX=${shq(mount.prefix)}
readonly MOUNTPOINT_VERSION=${shq(MOUNTPOINT_S3_VERSION)}
if ! mount-s3 --version 2>/dev/null | grep -qF "$MOUNTPOINT_VERSION"; then
  log "installing Mountpoint for Amazon S3 $MOUNTPOINT_VERSION"
  dnf install -y ${shq(MOUNTPOINT_S3_RPM_URL)}
fi
installed="$(mount-s3 --version)"
case "$installed" in
  *"$MOUNTPOINT_VERSION"*) log "using $installed" ;;
  *) log "expected Mountpoint for Amazon S3 $MOUNTPOINT_VERSION, found: $installed"; exit 1 ;;
esac
readonly CACHE_DIR="$SCRATCH_ROOT/mountpoint-cache"
mkdir -p "$CACHE_DIR"
chmod 0700 "$CACHE_DIR"
# Half of the free space: the rest stays for checkpoints and the trainer's scratch.
avail_mib="$(df --output=avail -m "$CACHE_DIR" | tail -n 1 | tr -d ' ')"
cache_mib=$((avail_mib / 2))
log "mounting s3://$DATASET_BUCKET/$DATASET_PREFIX at $DATASET_DIR (cache: $cache_mib MiB in $CACHE_DIR)"
mount-s3 "$DATASET_BUCKET" "$DATASET_DIR" --read-only${prefixFlag} --cache "$CACHE_DIR" --max-cache-size "$cache_mib" --allow-other --region ${region}
`;
    }
    case "copy":
      return `# Dataset: copied onto scratch before training, then bind-mounted read-only.
readonly DATASET_BUCKET=${shq(mount.bucketName)}
readonly DATASET_PREFIX=${shq(mount.prefix)}
readonly COPY_DIR="$SCRATCH_ROOT/dataset"
mkdir -p "$COPY_DIR"
log "copying s3://$DATASET_BUCKET/$DATASET_PREFIX to $COPY_DIR"
aws s3 sync "s3://$DATASET_BUCKET/$DATASET_PREFIX" "$COPY_DIR" --only-show-errors --no-progress
log "copied $(du -sh "$COPY_DIR" | cut -f1)"
mount --bind "$COPY_DIR" "$DATASET_DIR"
mount -o remount,bind,ro "$DATASET_DIR"
`;
    case "fsx-lustre":
      return `# Dataset: FSx for Lustre, linked to the dataset prefix.
readonly FSX_DNS_NAME=${shq(mount.dnsName)}
readonly FSX_MOUNT_NAME=${shq(mount.mountName)}
log "installing the Lustre client"
dnf install -y lustre-client
log "mounting $FSX_DNS_NAME@tcp:/$FSX_MOUNT_NAME at $DATASET_DIR"
mount -t lustre -o relatime,flock "$FSX_DNS_NAME@tcp:/$FSX_MOUNT_NAME" "$DATASET_DIR"
`;
  }
}

function runSpecSection(): string {
  return `# The run spec, for the container (read-only).
printf '%s' "$RUN_SPEC_B64" | base64 -d > "$RUN_SPEC_DIR/run-spec.json"
chmod 0644 "$RUN_SPEC_DIR/run-spec.json"
log "run spec written to $RUN_SPEC_DIR/run-spec.json"
`;
}

function imageSection(imageUri: string): string {
  const ecr = ecrRegistryOf(imageUri);
  const login = ecr
    ? `log "logging in to ${ecr.host}"
aws ecr get-login-password --region ${shq(ecr.region)} | docker login --username AWS --password-stdin ${shq(ecr.host)}
`
    : "";
  return `# The training image.
systemctl enable --now docker
${login}for attempt in 1 2 3; do
  log "pulling $IMAGE_URI (attempt $attempt)"
  if docker pull "$IMAGE_URI"; then
    break
  fi
  if [ "$attempt" -eq 3 ]; then
    log "could not pull $IMAGE_URI"
    exit 1
  fi
  sleep 15
done
`;
}

function runSection(runSpec: RunSpec): string {
  return `# Train. The run agent in the container supervises the trainer, uploads every checkpoint
# and terminates this node when the run ends; the host steps in only when the agent crashes.
readonly MAX_ATTEMPTS=${runSpec.limits.maxAttempts}
readonly NODE_EVENTS=${shq(`s3://${runSpec.artifacts.bucket}/${runSpec.artifacts.prefix}node-events/`)}
attempt=1
while :; do
  log "starting the run agent (attempt $attempt of $MAX_ATTEMPTS)"
  status=0
  # --init reaps the trainer's orphans; --stop-timeout gives the agent time to upload the last
  # checkpoint when the node is stopped (docker's default is 10 s, then SIGKILL).
  docker run --rm --init --stop-timeout ${AGENT_STOP_TIMEOUT_SECONDS} --name ${CONTAINER_NAME} --gpus all --ipc=host \\
    --log-driver awslogs \\
    --log-opt awslogs-group="$LOG_GROUP" \\
    --log-opt awslogs-region="$REGION" \\
    --log-opt awslogs-stream="$INSTANCE_ID" \\
    -v "$DATASET_DIR":/data:ro \\
    -v "$RUN_SPEC_DIR":${RUN_SPEC_HOST_DIR}:ro \\
    -v "$SCRATCH_DIR":/scratch \\
    -e ${RUN_SPEC_ENV}=${RUN_SPEC_FILE} \\
    -e YOLO_TRAIN_SCRATCH=/scratch \\
    -e AWS_REGION="$REGION" \\
    -e AWS_DEFAULT_REGION="$REGION" \\
    "$IMAGE_URI" || status=$?
  log "run agent exited with status $status"
  case "$status" in
    ${AGENT_EXIT.done}) log "the run reached its end; the agent asked for teardown"; exit 0 ;;
    ${AGENT_EXIT.interrupted}) log "spot interruption: Auto Scaling replaces this node and the replacement resumes"; exit 0 ;;
    ${AGENT_EXIT.badRunSpec}) log "the run spec is invalid: retrying cannot help"; break ;;
  esac
  # The agent crashed before it could record and tear down: say so where people look.
  printf '{"instanceId":"%s","exitStatus":%d,"attempt":%d,"time":"%s"}\\n' \\
    "$INSTANCE_ID" "$status" "$attempt" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" |
    aws s3 cp - "$NODE_EVENTS$INSTANCE_ID-$attempt.json" --only-show-errors || log "could not record the crash"
  if [ "$attempt" -ge "$MAX_ATTEMPTS" ]; then
    break
  fi
  attempt=$((attempt + 1))
  sleep 10
done
`;
}

/**
 * The agent could not finish the run: give the GPU back. Terminating with
 * ShouldDecrementDesiredCapacity lowers the group (minSize 0), so Auto Scaling does not start a
 * replacement that would fail the same way.
 */
function finishSection(): string {
  return `# Tear down: this instance leaves its group, and the group's desired capacity drops with it.
log "terminating $INSTANCE_ID and decrementing the group's desired capacity (agent status $status)"
aws autoscaling terminate-instance-in-auto-scaling-group --instance-id "$INSTANCE_ID" --should-decrement-desired-capacity ||
  log "could not terminate; the idle alarm and the max-runtime backstop still will"
exit "$status"
`;
}

/** Single-quotes a value for bash. */
function shq(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
