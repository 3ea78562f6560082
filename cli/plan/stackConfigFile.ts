import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

/**
 * A stack's config as `pulumi config` holds it: `namespace:key` → text, objects and lists as
 * JSON text (that is how the Pulumi engine hands structured config to a program).
 */
export interface StackConfigValues {
  readonly values: Record<string, string>;
  /** Full keys (`yolo-train:tracking`) holding a secure value anywhere inside. */
  readonly secretKeys: string[];
}

export class StackFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackFileError";
  }
}

/** Parses the text of a `Pulumi.<stack>.yaml`. Secure values cannot be decrypted offline. */
export function parseStackConfigFile(text: string, fileName: string): StackConfigValues {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new StackFileError(`${fileName} is not valid YAML: ${(error as Error).message}`);
  }
  if (document === null || document === undefined) return { values: {}, secretKeys: [] };
  if (typeof document !== "object" || Array.isArray(document)) {
    throw new StackFileError(`${fileName} must be a YAML mapping with a \`config:\` section`);
  }
  const config = (document as Record<string, unknown>).config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new StackFileError(`${fileName}: \`config\` must be a mapping of namespace:key to value`);
  }
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    if (!key.includes(":")) {
      throw new StackFileError(
        `${fileName}: config key \`${key}\` has no namespace; write it as \`yolo-train:${key}\` or \`aws:${key}\``,
      );
    }
    values[key] = toConfigText(value, key);
    if (holdsSecret(value)) secretKeys.push(key);
  }
  return { values, secretKeys };
}

function toConfigText(value: unknown, key: string): string {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object" && "secure" in (value as object)) {
    // Offline there is no key to decrypt with; a placeholder keeps shape checks meaningful.
    return "[secret]";
  }
  if (value !== null && typeof value === "object") return JSON.stringify(stripSecure(value, key));
  return String(value);
}

function holdsSecret(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(holdsSecret);
  if (value !== null && typeof value === "object") {
    return "secure" in (value as object) || Object.values(value as object).some(holdsSecret);
  }
  return false;
}

function stripSecure(value: unknown, key: string): unknown {
  if (Array.isArray(value)) return value.map((v) => stripSecure(v, key));
  if (value !== null && typeof value === "object") {
    if ("secure" in (value as object) && Object.keys(value as object).length === 1) return "[secret]";
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, stripSecure(v, key)]));
  }
  return value;
}

/** Reads `Pulumi.<stack>.yaml` from the project folder. */
export function readStackConfigFile(projectDir: string, stack: string): StackConfigValues {
  const fileName = `Pulumi.${stack}.yaml`;
  const file = path.join(projectDir, fileName);
  if (!fs.existsSync(file)) {
    const stacks = fs
      .readdirSync(projectDir)
      .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
      .filter((s): s is string => Boolean(s));
    throw new StackFileError(
      `${fileName} does not exist in ${projectDir}. Stacks here: ${stacks.join(", ") || "none"}. ` +
        "Create it with `pulumi stack init NAME` and `pulumi config set`, or pass --stack with one of those.",
    );
  }
  return parseStackConfigFile(fs.readFileSync(file, "utf8"), fileName);
}

/** The project file (`Pulumi.yaml`) of a project folder: its name, and the program it runs. */
export interface ProjectFile {
  readonly name: string;
  readonly main?: string;
}

/** Reads `<projectDir>/Pulumi.yaml`; a missing or nameless one is a StackFileError saying what to pass. */
export function readProjectFile(projectDir: string): ProjectFile {
  const file = path.join(projectDir, "Pulumi.yaml");
  let project: { name?: unknown; main?: unknown } | null;
  try {
    project = parseYaml(fs.readFileSync(file, "utf8")) as { name?: unknown; main?: unknown } | null;
  } catch (error) {
    throw new StackFileError(`Cannot read ${file}: ${(error as Error).message}. Pass --cwd with the project folder (holding Pulumi.yaml).`);
  }
  if (typeof project?.name !== "string" || project.name === "") throw new StackFileError(`${file} has no \`name\``);
  return { name: project.name, ...(typeof project.main === "string" ? { main: project.main } : {}) };
}
