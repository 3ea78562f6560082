import { randomUUID } from "crypto";
import { readFileSync } from "fs";
import { sleep } from "./backoff";
import { RunLease } from "./runLease";
import { InvalidRunSpecError, parseRunSpec, type RunSpec } from "../runspec";
import { parseAgentConfig } from "./agentConfig";
import { KmsSigner } from "../ota/signature";
import { createAutoScalingClient, createKmsClient, createS3Client } from "./awsClients";
import { CheckpointTransfer } from "./checkpointUploader";
import { sampleGpuUtilisation } from "./gpuSampler";
import { createLogger, describeError } from "./log";
import { cloudWatchSender, createCloudWatchClient, MetricsPublisher } from "./metricsPublisher";
import { createOtaPublisher } from "./otaRelease";
import { runLayout } from "../runspec/runLayout";
import { downloadModel } from "./modelSource";
import { RunRecordStore } from "./runRecordStore";
import { readSecureParameter } from "./ssmParameter";
import { ImdsClient } from "./spotNotice";
import { EXIT, Supervisor, type ExitCode } from "./supervisor";
import { terminateSelf } from "./teardown";
import { TrainerProcess } from "./trainerProcess";
import { trainingMetricData } from "./trainingMetrics";
import { readRung, recordAtRung } from "./sweep/rungStore";
import type { RungAccess } from "./sweep/rungDecision";

/** How long the agent waits for its instance id before it takes the lease without it. */
const INSTANCE_ID_WAIT_MS = 3_000;

/** How long an exiting agent waits for queued metrics; the run record already holds them. */
const METRICS_DRAIN_MS = 3_000;

/**
 * The run agent's entry point (the container's ENTRYPOINT): environment → settings → run spec →
 * supervisor, and the exit code of docs/node-runtime.md. Nothing touches AWS before the spec is valid.
 */
async function main(): Promise<ExitCode> {
  const log = createLogger();
  const configResult = parseAgentConfig(process.env);
  if (!configResult.ok) {
    log.error("invalid-agent-config", { problems: configResult.problems });
    process.stderr.write(`yolo-train agent: invalid settings:\n${configResult.problems.map((p) => `  - ${p}`).join("\n")}\n`);
    return EXIT.invalidInput;
  }
  const config = configResult.config;

  let spec: RunSpec;
  try {
    spec = parseRunSpec(readFileSync(config.runSpecPath, "utf8"));
  } catch (error) {
    const message =
      error instanceof InvalidRunSpecError ? error.message : `The run spec ${config.runSpecPath} could not be read: ${describeError(error)}`;
    const problems = error instanceof InvalidRunSpecError ? error.problems.map((p) => `${p.path}: ${p.message}`) : [message];
    log.error("invalid-run-spec", { path: config.runSpecPath, problems });
    process.stderr.write(`yolo-train agent: ${message}\n`);
    return EXIT.invalidInput;
  }

  const clientOptions = { region: spec.region, s3ForcePathStyle: config.s3ForcePathStyle };
  const s3 = createS3Client(clientOptions);
  // Record writes retry in the agent, where a checkpoint upload can cut the waits short.
  const recordS3 = createS3Client({ ...clientOptions, maxAttempts: 2 });
  const autoScaling = createAutoScalingClient(clientOptions);
  const kms = createKmsClient(clientOptions);
  const cloudWatch = createCloudWatchClient(spec.region);
  const metrics = new MetricsPublisher(cloudWatchSender(cloudWatch), log);
  const imds = new ImdsClient(config.imdsEndpoint);
  // Teardown needs this instance's id: learnt now, while IMDS answers, it cannot be lost later to a
  // token gone bad. Not awaited (nothing else needs it); teardown asks again if this fails.
  const identified = imds.instanceId().then(
    (instanceId) => {
      log.info("instance-identified", { instanceId });
      return instanceId;
    },
    (error: unknown) => {
      log.warn("instance-id-unknown", { error: describeError(error), note: "teardown asks IMDS again" });
      return null;
    },
  );
  const layout = runLayout(spec, config.scratch);
  // The lease names its holder for people reading it; an IMDS slow to answer must not hold up the start.
  const instanceId = await Promise.race([identified, sleep(INSTANCE_ID_WAIT_MS).then(() => null)]);
  const lease = new RunLease(recordS3, {
    runId: spec.runId,
    bucket: layout.bucket,
    key: layout.leaseKey,
    holder: { agentId: randomUUID(), instanceId },
    ttlMs: config.leaseTtlMs,
    log,
  });

  // A sweep trial's rung records live in the artifact bucket, under sweeps/<sweepId>/ (issue 12).
  const sweep = spec.sweep;
  const rungs: RungAccess | undefined =
    sweep === undefined
      ? undefined
      : {
          record: (rung, rungEpoch, entry) => recordAtRung(s3, layout.bucket, sweep.sweepId, rung, rungEpoch, entry, { log }),
          read: async (rung, rungEpoch) => (await readRung(s3, layout.bucket, sweep.sweepId, rung, rungEpoch, { log }))?.entries ?? [],
        };

  const supervisor = new Supervisor({
    config,
    spec,
    layout,
    log,
    store: new RunRecordStore(recordS3, layout, log),
    lease,
    transfer: new CheckpointTransfer(s3, layout.bucket, log),
    spotNotice: () => imds.spotNotice(),
    sampleGpu: () => sampleGpuUtilisation(config.gpuQueryCommand),
    startTrainer: (launch) => new TrainerProcess(launch),
    teardown: () => terminateSelf(autoScaling, () => imds.instanceId(), log),
    fetchModel: (uri, path, signal) => downloadModel(s3, uri, path, log, signal),
    readSecret: (name) => readSecureParameter({ name, region: spec.region, log }),
    // A sweep trial's model is released only if it wins, by the sweep keeper (issue 12).
    ...(spec.sweep === undefined ? { publishModel: createOtaPublisher({ s3, signer: new KmsSigner({ keyId: spec.ota.signingKeyId, client: kms }), log }) } : {}),
    publishMetrics: (record, atMs) => metrics.publish(trainingMetricData(record, spec.autoScalingGroupName, atMs)),
    ...(rungs !== undefined ? { rungs } : {}),
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => supervisor.requestStop(signal));

  try {
    return await supervisor.run();
  } catch (error) {
    log.error("internal-error", { error: describeError(error), stack: error instanceof Error ? error.stack : undefined });
    supervisor.abort();
    return EXIT.internalError;
  } finally {
    await metrics.drain(METRICS_DRAIN_MS);
    cloudWatch.destroy();
    s3.destroy();
    recordS3.destroy();
    autoScaling.destroy();
    kms.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`yolo-train agent: ${describeError(error)}\n`);
    process.exit(EXIT.internalError);
  },
);
