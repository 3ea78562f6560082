import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, CONFIG_NAMESPACE, KNOWN_KEYS } from "./keys";
import { checkExperimentConfig, configSubject } from "./parseExperimentConfig";
import { InvalidInputError, type Problem } from "./problems";
import type { ExperimentConfig } from "./types";

export { CONFIG_KEYS, KNOWN_KEYS };

/** The validated config, and the secrets it refers to, kept as Pulumi secrets. */
export interface LoadedExperimentConfig {
  readonly config: ExperimentConfig;
  readonly secrets: {
    /** Set when `config.tracking.kind` is `wandb`. */
    readonly wandbApiKey?: pulumi.Output<string>;
  };
}

/** Keys whose value is an object or a list: read as JSON. */
const STRUCTURED_KEYS: ReadonlySet<string> = new Set(CONFIG_KEYS.filter((k) => k.structured).map((k) => k.key));

/**
 * Reads the stack config (`yolo-train:*` and `aws:region`) and validates it with
 * {@link checkExperimentConfig}; the only module of `config/` that touches Pulumi, and it
 * registers no resource. Throws {@link InvalidInputError} with every problem at once, so an
 * invalid config stops the program before anything is declared.
 */
export function loadExperimentConfig(): LoadedExperimentConfig {
  const project = pulumi.getProject();
  const stack = pulumi.getStack();
  const config = new pulumi.Config(CONFIG_NAMESPACE);

  // Every key the stack sets in our namespace, known or not: unknown ones are typos to report.
  const prefix = `${CONFIG_NAMESPACE}:`;
  const setKeys = Object.keys(pulumi.runtime.allConfig())
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  const raw: Record<string, unknown> = {};
  for (const key of new Set([...KNOWN_KEYS, ...setKeys])) {
    const value = STRUCTURED_KEYS.has(key) ? readStructured(config, key) : config.get(key);
    if (value !== undefined) raw[key] = value;
  }
  const secretKeys = setKeys.filter((k) => isConfigSecret(`${prefix}${k}`));

  const problems: Problem[] = [];
  const region = new pulumi.Config("aws").get("region");
  if (region === undefined || region === "") {
    problems.push({
      key: "aws:region",
      value: undefined,
      allowed: "the AWS region to train in, e.g. us-east-1",
      fix: "pulumi config set aws:region us-east-1",
    });
  }
  const check = checkExperimentConfig(raw, { project, stack, secretKeys, ...(region ? { region } : {}) });
  problems.push(...check.problems);
  if (problems.length > 0 || check.config === undefined) {
    throw new InvalidInputError(configSubject({ project, stack }), problems);
  }

  const secrets: { wandbApiKey?: pulumi.Output<string> } = {};
  if (check.config.tracking.kind === "wandb") {
    // requireSecretObject keeps the key a secret through every apply that derives from it.
    secrets.wandbApiKey = config
      .requireSecretObject<{ wandbApiKey: string }>("tracking")
      .apply((tracking) => tracking.wandbApiKey);
  }
  return { config: check.config, secrets };
}

/** An object key as JSON; text that is not JSON is passed on as text for the schema to name. */
function readStructured(config: pulumi.Config, key: string): unknown {
  try {
    return config.getObject<unknown>(key);
  } catch {
    return config.get(key);
  }
}

/**
 * Whether Pulumi holds this full key (`yolo-train:tracking`) as a secret. A key set with
 * `--secret --path 'yolo-train:tracking.wandbApiKey'` makes the whole `tracking` object secret.
 * The runtime's own check is internal to @pulumi/pulumi; the language host's environment
 * variable is the fallback.
 */
function isConfigSecret(fullKey: string): boolean {
  const runtime = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };
  if (typeof runtime.isConfigSecret === "function") return runtime.isConfigSecret(fullKey);
  try {
    const keys: unknown = JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS ?? "[]");
    return Array.isArray(keys) && keys.includes(fullKey);
  } catch {
    return false;
  }
}
