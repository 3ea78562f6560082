import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, CONFIG_NAMESPACE, KNOWN_KEYS } from "./keys";
import { checkExperimentConfig, configSubject } from "./parseExperimentConfig";
import { InvalidInputError, type Problem } from "../runspec/problems";
import { closestMatch, editDistance } from "./suggest";
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
 * {@link checkExperimentConfig}, and refuses keys nothing would read ({@link checkConfigNamespaces});
 * the only module of `config/` that touches Pulumi, and it registers no resource. Throws {@link InvalidInputError} with every problem at once, so an
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
  // Keys outside the namespace that nothing would read: `yolo_train:epochs`, `aws:regoin`.
  const allConfig = pulumi.runtime.allConfig();
  problems.push(...checkConfigNamespaces(allConfig, { project, secretKeys: Object.keys(allConfig).filter((k) => isConfigSecret(k)) }));
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

/**
 * The keys of the AWS provider's config (`aws:<key>`), as `@pulumi/aws` 7 declares them in
 * `config/vars.d.ts` (a test keeps this list equal to the installed provider's).
 */
export const AWS_PROVIDER_CONFIG_KEYS: readonly string[] = Object.freeze([
  "region",
  "profile",
  "accessKey",
  "secretKey",
  "token",
  "allowedAccountIds",
  "assumeRoleWithWebIdentity",
  "assumeRoles",
  "customCaBundle",
  "defaultTags",
  "ec2MetadataServiceEndpoint",
  "ec2MetadataServiceEndpointMode",
  "endpoints",
  "forbiddenAccountIds",
  "httpProxy",
  "httpsProxy",
  "ignoreTags",
  "insecure",
  "maxRetries",
  "noProxy",
  "retryMode",
  "s3UsEast1RegionalEndpoint",
  "s3UsePathStyle",
  "sharedConfigFiles",
  "sharedCredentialsFiles",
  "skipCredentialsValidation",
  "skipMetadataApiCheck",
  "skipRegionValidation",
  "skipRequestingAccountId",
  "stsRegion",
  "tagPolicyCompliance",
  "tokenBucketRateLimiterCapacity",
  "useDualstackEndpoint",
  "useFipsEndpoint",
  "userAgents",
]);

/**
 * Namespaces of Pulumi itself and of providers a program may configure: never taken for a
 * misspelling of `yolo-train` or `aws`.
 */
const OTHER_NAMESPACES: ReadonlySet<string> = new Set(["pulumi", "aws", "awsx", "aws-native", "docker", "docker-build", "command", "random", "tls"]);

/** `Yolo_Train` → `yolotrain`: namespaces that differ only in case and separators. */
const squash = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]/g, "");

/** The key's first segment: `ota` of `ota.promote.min` (a `--path` key), `progressive` of `progressive[0].imgsz`. */
function rootOf(name: string): { root: string; rest: string } {
  const cut = name.search(/[.[]/);
  return cut < 0 ? { root: name, rest: "" } : { root: name.slice(0, cut), rest: name.slice(cut) };
}

/** Values of keys that may hold credentials are not repeated in messages. */
function shownValue(fullKey: string, value: string, secret: boolean): string {
  return secret || /secret|token|accesskey|password|proxy|credential/i.test(fullKey) ? "[secret]" : value;
}

/**
 * Config keys that no part of the stack reads, and what was meant: a misspelt namespace
 * (`yolo_train:epochs`, `yolotrain:epochs`, `yolo-trian:epochs` → `yolo-train:epochs`), a key the
 * AWS provider does not have (`aws:regoin` → `aws:region`), a yolo-train key in the project's
 * namespace (what `pulumi config set epochs 50` writes in a project with another name), a
 * misspelt `aws` (`asw:region`). Keys of `yolo-train:` itself are checked by the schema, and
 * other namespaces (Pulumi's, other providers', a program's own) are left alone. Pure.
 *
 * @param values every config key of the stack (`namespace:key` → text), as `pulumi.runtime.allConfig()` holds them
 */
export function checkConfigNamespaces(
  values: Readonly<Record<string, string>>,
  context: { readonly project: string; readonly secretKeys?: readonly string[] },
): Problem[] {
  const problems: Problem[] = [];
  const secret = new Set(context.secretKeys ?? []);
  for (const [fullKey, value] of Object.entries(values)) {
    const colon = fullKey.indexOf(":");
    if (colon <= 0) continue;
    const namespace = fullKey.slice(0, colon);
    const name = fullKey.slice(colon + 1);
    const { root, rest } = rootOf(name);
    const shown = shownValue(fullKey, value, secret.has(fullKey));
    const meantKnownKey = (): string => `${CONFIG_NAMESPACE}:${(closestMatch(root, KNOWN_KEYS) ?? root) + rest}`;

    if (namespace === CONFIG_NAMESPACE) continue;
    if (namespace === "aws") {
      if (AWS_PROVIDER_CONFIG_KEYS.includes(root)) continue;
      const awsKey = closestMatch(root, AWS_PROVIDER_CONFIG_KEYS);
      const ours = KNOWN_KEYS.includes(root) ? `${CONFIG_NAMESPACE}:${name}` : undefined;
      const meant = awsKey !== undefined ? `aws:${awsKey}${rest}` : ours;
      problems.push({
        key: fullKey,
        value: shown,
        allowed: "a config key of the AWS provider (such as aws:region, aws:profile, aws:assumeRoles, aws:defaultTags, aws:skipCredentialsValidation); no part of the stack reads this one",
        fix: meant !== undefined ? `did you mean \`${meant}\`? Rename the key` : `remove it (pulumi config rm ${fullKey}); the AWS provider's keys are ${AWS_PROVIDER_CONFIG_KEYS.join(", ")}`,
      });
      continue;
    }
    if (OTHER_NAMESPACES.has(namespace)) continue;
    if (namespace === context.project) {
      // `pulumi config set epochs 50` writes `<project>:epochs`; only yolo-train's own key names are taken for that.
      if (KNOWN_KEYS.includes(root)) {
        problems.push({
          key: fullKey,
          value: shown,
          allowed: `in the \`${CONFIG_NAMESPACE}\` namespace: \`pulumi config set\` without a namespace writes the project's (\`${namespace}:\`), which yolo-train does not read`,
          fix: `did you mean \`${CONFIG_NAMESPACE}:${name}\`? Rename the key (pulumi config set ${CONFIG_NAMESPACE}:${name} …)`,
        });
      }
      continue;
    }
    // Within two edits (`yolo_train`, `yolotrain`, `yolo-trian`, `Yolo-Train`), or a longer form (`yolo-training`).
    if (editDistance(namespace, CONFIG_NAMESPACE) <= 2 || squash(namespace).startsWith(squash(CONFIG_NAMESPACE))) {
      problems.push({
        key: fullKey,
        value: shown,
        allowed: `a key of the \`${CONFIG_NAMESPACE}\` namespace; nothing reads the \`${namespace}\` namespace`,
        fix: `did you mean \`${meantKnownKey()}\`? Rename the key`,
      });
      continue;
    }
    if (namespace.length >= 2 && editDistance(namespace, "aws") <= 1) {
      const awsKey = closestMatch(root, AWS_PROVIDER_CONFIG_KEYS);
      problems.push({
        key: fullKey,
        value: shown,
        allowed: "a key of the `aws` namespace (the AWS provider's config); nothing reads the `" + namespace + "` namespace",
        fix: `did you mean \`aws:${(awsKey ?? root) + rest}\`? Rename the key`,
      });
    }
  }
  return problems;
}
