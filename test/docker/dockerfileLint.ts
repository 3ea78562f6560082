/**
 * A small Dockerfile reader and the pinning rules the training image must follow. Used by
 * dockerfile.test.ts on docker/Dockerfile and on small bad Dockerfiles; pure apart from the
 * {@link BuildContext} it is given (a folder, or files in memory).
 *
 * The reader handles what docker/Dockerfile uses and refuses what it does not understand
 * (heredocs), so nothing slips past the rules unread: instructions, `\` continuations with
 * comment lines inside them, `# syntax=` directives, stages (`FROM … AS name`), flags
 * (`--from=`), exec (JSON) and shell forms, and global `ARG`s used in `FROM`.
 */
import * as fs from "fs";
import * as path from "path";
import { dockerfileInstructions, execForm, withoutFlags, type DockerfileInstruction } from "../../components/image/dockerfileSources";

export { execForm, withoutFlags };

/** One instruction as components/image/dockerfileSources.ts reads it (never with an empty keyword here). */
export type Instruction = DockerfileInstruction;

export interface Stage {
  readonly index: number;
  /** The `FROM` reference as written (before `ARG` substitution). */
  readonly from: string;
  readonly name: string | undefined;
  readonly line: number;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** `# syntax=…` parser directive, if any. */
  readonly syntax: { readonly image: string; readonly line: number } | undefined;
  /** `ARG`s before the first `FROM`, with their defaults. */
  readonly globalArgs: ReadonlyMap<string, string | undefined>;
  readonly stages: readonly Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split(/\r?\n/);
  let syntax: Dockerfile["syntax"];
  const globalArgs = new Map<string, string | undefined>();
  const stages: { index: number; from: string; name: string | undefined; line: number; instructions: Instruction[] }[] = [];

  // Parser directives: `# key=value` lines before anything else.
  let i = 0;
  for (; i < lines.length; i++) {
    const directive = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(lines[i]!);
    if (!directive) break;
    if (directive[1]!.toLowerCase() === "syntax") syntax = { image: directive[2]!, line: i + 1 };
    if (directive[1]!.toLowerCase() === "escape" && directive[2] !== "\\") throw new Error(`line ${i + 1}: only the default escape character is supported`);
  }

  // Directives are comment lines, which the reader skips.
  for (const instruction of dockerfileInstructions(text)) {
    const { line } = instruction;
    if (instruction.keyword === "") throw new Error(`line ${line}: cannot read "${instruction.args}"`);
    if (/<<-?\s*["']?[A-Za-z_]/.test(instruction.args) && ["RUN", "COPY", "ADD"].includes(instruction.keyword)) {
      throw new Error(`line ${line}: heredocs are not supported by this check; write the command out`);
    }
    if (instruction.keyword === "FROM") {
      const tokens = withoutFlags(instruction.args).tokens;
      const name = tokens.length >= 3 && tokens[1]!.toUpperCase() === "AS" ? tokens[2] : undefined;
      stages.push({ index: stages.length, from: tokens[0] ?? "", name, line, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== "ARG") throw new Error(`line ${line}: ${instruction.keyword} before the first FROM`);
      for (const [key, value] of argPairs(instruction.args)) globalArgs.set(key, value);
    } else {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return { syntax, globalArgs, stages };
}

function argPairs(args: string): [string, string | undefined][] {
  return args
    .split(/\s+/)
    .filter((t) => t !== "")
    .map((t) => {
      const eq = t.indexOf("=");
      return eq < 0 ? [t, undefined] : [t.slice(0, eq), unquote(t.slice(eq + 1))];
    });
}

function unquote(value: string): string {
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
}

// --- image references ---------------------------------------------------------------------

export interface ImageRef {
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

export function parseImageRef(reference: string): ImageRef {
  const at = reference.indexOf("@");
  const digest = at >= 0 ? reference.slice(at + 1) : undefined;
  const named = at >= 0 ? reference.slice(0, at) : reference;
  const colon = named.lastIndexOf(":");
  const tag = colon > named.lastIndexOf("/") ? named.slice(colon + 1) : undefined;
  return { repository: tag === undefined ? named : named.slice(0, colon), tag, digest };
}

/**
 * Why a reference does not name one image for good, or undefined when it does: a sha256 digest,
 * or a tag that starts with a full major.minor.patch version (`2.5.1-cuda12.4-…`, `20.20.2-…`).
 * A tag like `20-bookworm-slim` or `3.11-slim` moves with every release; `latest` moves always.
 */
export function unpinnedReason(reference: string): { rule: "no-latest" | "pinned-image"; why: string } | undefined {
  const ref = parseImageRef(reference);
  if (ref.tag === "latest") return { rule: "no-latest", why: "the tag latest moves with every release" };
  if (ref.digest !== undefined) {
    return /^sha256:[0-9a-f]{64}$/.test(ref.digest) ? undefined : { rule: "pinned-image", why: `digest ${ref.digest} is not sha256:<64 hex digits>` };
  }
  if (ref.tag === undefined) return { rule: "pinned-image", why: "no tag means latest" };
  if (!/^v?\d+\.\d+\.\d+(?:[-_.+][\w.+-]*)?$/.test(ref.tag)) return { rule: "pinned-image", why: `tag ${ref.tag} is not an exact version (major.minor.patch)` };
  return undefined;
}

// --- .dockerignore ------------------------------------------------------------------------

/** `.dockerignore` matching as Docker does it: patterns in order, the last one that matches a path or one of its parent folders wins; `!` re-includes. */
export class DockerIgnore {
  private readonly patterns: { readonly regex: RegExp; readonly exclusion: boolean }[];

  constructor(text: string) {
    this.patterns = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => {
        const exclusion = l.startsWith("!");
        const cleaned = path.posix.normalize((exclusion ? l.slice(1) : l).trim()).replace(/^\/+/, "").replace(/\/+$/, "");
        return { regex: compilePattern(cleaned), exclusion };
      });
  }

  /** Whether a context-relative path (`a/b.txt`) is left out of the build context. */
  ignores(relativePath: string): boolean {
    const parts = relativePath.split("/").filter((p) => p !== "" && p !== ".");
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let ignored = false;
    for (const pattern of this.patterns) {
      if (candidates.some((c) => pattern.regex.test(c))) ignored = !pattern.exclusion;
    }
    return ignored;
  }
}

function compilePattern(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else {
          re += ".*";
        }
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) throw new Error(`.dockerignore pattern ${pattern}: unclosed [`);
      re += `[${pattern.slice(i + 1, end).replace(/^!/, "^")}]`;
      i = end;
    } else if (c === "\\" && i + 1 < pattern.length) {
      re += escapeRegex(pattern[++i]!);
    } else {
      re += escapeRegex(c);
    }
  }
  return new RegExp(re + "$");
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

// --- build context ------------------------------------------------------------------------

export interface BuildContext {
  /** `file`, `dir` or undefined, for a context-relative path. */
  kind(relativePath: string): "file" | "dir" | undefined;
  read(relativePath: string): string;
  /** Whether some file under a folder (recursively; context-relative paths) passes `keep`. Stops at the first. */
  anyFileUnder(relativePath: string, keep: (file: string) => boolean): boolean;
  /** Files directly in a folder, context-relative. */
  filesIn(relativePath: string): string[];
}

/** A folder on disk (the repository root for docker/Dockerfile). */
export function folderContext(root: string): BuildContext {
  const full = (rel: string): string => path.join(root, rel);
  return {
    kind(rel) {
      try {
        const stat = fs.statSync(full(rel));
        return stat.isDirectory() ? "dir" : stat.isFile() ? "file" : undefined;
      } catch {
        return undefined;
      }
    },
    read: (rel) => fs.readFileSync(full(rel), "utf8"),
    anyFileUnder(rel, keep) {
      const walk = (dir: string): boolean => {
        for (const entry of fs.readdirSync(full(dir), { withFileTypes: true })) {
          const child = dir === "" ? entry.name : `${dir}/${entry.name}`;
          if (entry.isDirectory() ? walk(child) : keep(child)) return true;
        }
        return false;
      };
      return walk(rel);
    },
    filesIn: (rel) =>
      fs
        .readdirSync(full(rel), { withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => (rel === "" ? e.name : `${rel}/${e.name}`)),
  };
}

/** Files in memory, for small test contexts: `{ "docker/train.py": "…" }`. */
export function memoryContext(files: Record<string, string>): BuildContext {
  const names = Object.keys(files);
  return {
    kind: (rel) => (rel === "" || rel === "." ? "dir" : rel in files ? "file" : names.some((n) => n.startsWith(`${rel}/`)) ? "dir" : undefined),
    read(rel) {
      const content = files[rel];
      if (content === undefined) throw new Error(`no file ${rel}`);
      return content;
    },
    anyFileUnder: (rel, keep) => names.some((n) => (rel === "" || rel === "." || n.startsWith(`${rel}/`)) && keep(n)),
    filesIn: (rel) => names.filter((n) => path.posix.dirname(n) === (rel === "" ? "." : rel)),
  };
}

// --- the rules ----------------------------------------------------------------------------

export type Rule =
  | "pinned-image"
  | "no-latest"
  | "pinned-requirements"
  | "pinned-pip"
  | "apt-packages"
  | "npm-ci"
  | "copy-source"
  | "user"
  | "entrypoint";

export interface Problem {
  readonly rule: Rule;
  readonly line: number;
  readonly message: string;
}

export interface LintOptions {
  readonly dockerfile: string;
  readonly context: BuildContext;
  /** The context's `.dockerignore`; empty when it has none. */
  readonly dockerignore: string;
  /**
   * apt packages that may be installed without a version. The Ubuntu archive keeps only the
   * newest build of a package, so a version pin stops installing after its next security update;
   * instead each unpinned package must be named here on purpose.
   */
  readonly aptAllowlist: readonly string[];
}

const PINNED_REQUIREMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9][A-Za-z0-9.+!_-]*$/;

export function lintDockerfile(options: LintOptions): Problem[] {
  const parsed = parseDockerfile(options.dockerfile);
  const ignore = new DockerIgnore(options.dockerignore);
  const problems: Problem[] = [];
  const add = (rule: Rule, line: number, message: string): void => {
    problems.push({ rule, line, message });
  };

  if (parsed.syntax !== undefined) {
    const why = unpinnedReason(parsed.syntax.image);
    if (why) add(why.rule, parsed.syntax.line, `# syntax=${parsed.syntax.image}: the frontend image is pulled at build time and ${why.why}`);
  }
  if (parsed.stages.length === 0) add("pinned-image", 1, "no FROM");

  const stageNames = new Set<string>();
  for (const stage of parsed.stages) {
    const reference = substitute(stage.from, parsed.globalArgs);
    if (reference === undefined) {
      add("pinned-image", stage.line, `FROM ${stage.from}: uses an ARG without a default`);
    } else if (!stageNames.has(reference.toLowerCase()) && reference !== "scratch") {
      const why = unpinnedReason(reference);
      if (why) add(why.rule, stage.line, `FROM ${reference}: ${why.why}; use an exact version tag or @sha256:<digest>`);
    }

    // Where COPY put context files in this stage (destination → context path), for `pip -r`.
    const copied = new Map<string, string>();
    let workdir = "/";
    for (const instruction of stage.instructions) {
      const { keyword, line } = instruction;
      if (keyword === "WORKDIR") workdir = path.posix.resolve(workdir, unquote(instruction.args));
      if (keyword === "COPY" || keyword === "ADD") {
        const { flags, tokens } = withoutFlags(instruction.args);
        const parts = execForm(tokens.join(" ")) ?? tokens;
        const sources = parts.slice(0, -1);
        const rawDestination = parts[parts.length - 1] ?? ".";
        const destination = path.posix.resolve(workdir, rawDestination);
        const intoFolder = rawDestination.endsWith("/") || sources.length > 1;
        const from = flags.get("from");
        if (from !== undefined) {
          const isStage = stageNames.has(from.toLowerCase()) || (/^\d+$/.test(from) && Number(from) < stage.index);
          if (!isStage) {
            const why = unpinnedReason(from);
            if (why) add(why.rule, line, `${keyword} --from=${from}: an image, and ${why.why}`);
          }
          continue;
        }
        for (const source of sources) {
          if (/^[a-z]+:\/\//i.test(source) || source.startsWith("git@")) {
            add("copy-source", line, `${keyword} ${source}: fetches from outside the build context, unpinned; download in a RUN with a checksum instead`);
            continue;
          }
          const problem = checkSource(source, options.context, ignore);
          if (problem) add("copy-source", line, `${keyword} ${source}: ${problem}`);
          const rel = contextPath(source);
          copied.set(intoFolder ? path.posix.join(destination, path.posix.basename(rel)) : destination, rel);
        }
      }
      if (keyword === "RUN") {
        const command = execForm(instruction.args)?.join(" ") ?? instruction.args;
        for (const simple of command.split(/&&|\|\||;|\|/)) {
          const words = simple.trim().split(/\s+/).filter((w) => w !== "").map(unquote);
          checkPip(words, line, workdir, copied, options.context, add);
          checkApt(words, line, options.aptAllowlist, add);
          checkNpm(words, line, add);
        }
      }
    }
    if (stage.name !== undefined) stageNames.add(stage.name.toLowerCase());
  }

  const final = parsed.stages[parsed.stages.length - 1];
  if (final !== undefined) {
    const users = final.instructions.filter((i) => i.keyword === "USER");
    const lastUser = users[users.length - 1];
    if (lastUser === undefined) add("user", final.line, "the final stage has no USER, so the container runs as root");
    else if (/^(?:root|0)(?::(?:root|0))?$/.test(lastUser.args.trim())) add("user", lastUser.line, `USER ${lastUser.args}: the container runs as root`);
    const entrypoints = final.instructions.filter((i) => i.keyword === "ENTRYPOINT");
    const entrypoint = entrypoints[entrypoints.length - 1];
    if (entrypoint === undefined) add("entrypoint", final.line, "the final stage has no ENTRYPOINT");
    else if (execForm(entrypoint.args) === undefined) add("entrypoint", entrypoint.line, "ENTRYPOINT must be in exec form [\"…\"], so signals reach the process and not a shell");
  }
  return problems;
}

function substitute(reference: string, args: ReadonlyMap<string, string | undefined>): string | undefined {
  let unresolved = false;
  const out = reference.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => {
    const value = args.get(name);
    if (value === undefined) unresolved = true;
    return value ?? "";
  });
  return unresolved ? undefined : out;
}

function contextPath(source: string): string {
  return path.posix.normalize(source).replace(/^\/+/, "").replace(/\/+$/, "").replace(/^\.$/, "");
}

function checkSource(source: string, context: BuildContext, ignore: DockerIgnore): string | undefined {
  const rel = contextPath(source);
  if (/[*?[]/.test(rel)) {
    // Globs in the last path segment only (what COPY commonly uses).
    const dir = path.posix.dirname(rel) === "." ? "" : path.posix.dirname(rel);
    const matcher = new DockerIgnore(path.posix.basename(rel));
    const sent = context.filesIn(dir).filter((f) => matcher.ignores(path.posix.basename(f)) && !ignore.ignores(f));
    return sent.length > 0 ? undefined : "matches no file the build context sends";
  }
  const kind = context.kind(rel);
  if (kind === undefined) return "does not exist in the build context";
  if (kind === "file") return ignore.ignores(rel) ? "is left out of the build context by .dockerignore" : undefined;
  return context.anyFileUnder(rel, (f) => !ignore.ignores(f)) ? undefined : "is a folder whose files .dockerignore all leave out";
}

type Add = (rule: Rule, line: number, message: string) => void;

function checkPip(words: string[], line: number, workdir: string, copied: ReadonlyMap<string, string>, context: BuildContext, add: Add): void {
  let at = -1;
  if (/^pip3?$/.test(path.posix.basename(words[0] ?? "")) && words[1] === "install") at = 2;
  if (/^python3?(?:\.\d+)?$/.test(path.posix.basename(words[0] ?? "")) && words[1] === "-m" && words[2] === "pip" && words[3] === "install") at = 4;
  if (at < 0) return;
  for (let i = at; i < words.length; i++) {
    const word = words[i]!;
    if (word === "-r" || word === "--requirement" || word === "-c" || word === "--constraint") {
      const file = words[++i];
      const inImage = file === undefined ? undefined : path.posix.resolve(workdir, file);
      const source = inImage === undefined ? undefined : copied.get(inImage);
      if (source === undefined || context.kind(source) !== "file") {
        add("pinned-pip", line, `pip install ${word} ${file ?? ""}: not a file COPY brought from the build context, so its pins cannot be checked`);
        continue;
      }
      for (const problem of requirementProblems(context.read(source))) add("pinned-requirements", line, `${source}: ${problem}`);
    } else if (word.startsWith("-")) {
      const [option, inline] = word.split("=", 2) as [string, string | undefined];
      if (/^(?:-e|--editable|--index-url|-i|--extra-index-url|-f|--find-links)$/.test(option)) {
        add("pinned-pip", line, `pip install ${option}: installs from a source that the pins do not cover`);
      }
      if (inline === undefined && PIP_OPTIONS_WITH_VALUE.has(option)) i++;
    } else if (!PINNED_REQUIREMENT.test(word)) {
      add("pinned-pip", line, `pip install ${word}: not pinned as name==version`);
    }
  }
}

/** pip install options followed by a value (so the value is not read as a package). */
const PIP_OPTIONS_WITH_VALUE = new Set([
  "-e", "--editable", "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
  "--cache-dir", "--trusted-host", "--platform", "--python-version", "--implementation", "--abi", "--progress-bar", "--src",
  "--upgrade-strategy", "--log", "--timeout", "--retries", "--proxy", "-C", "--config-settings", "--global-option",
]);

/** Every problem of a requirements file: each requirement must be `name==version`, nothing else. */
export function requirementProblems(text: string): string[] {
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) return;
    if (!PINNED_REQUIREMENT.test(line)) problems.push(`line ${i + 1} "${line}" is not name==version`);
  });
  return problems;
}

function checkApt(words: string[], line: number, allowlist: readonly string[], add: Add): void {
  const tool = words[0];
  if (!(tool === "apt-get" || tool === "apt") || !words.includes("install")) return;
  const args = words.slice(words.indexOf("install") + 1);
  if (!args.includes("--no-install-recommends")) add("apt-packages", line, `${tool} install without --no-install-recommends pulls in packages nobody chose`);
  for (const name of args.filter((a) => !a.startsWith("-"))) {
    if (!name.includes("=") && !allowlist.includes(name)) {
      add("apt-packages", line, `${tool} install ${name}: neither pinned (name=version) nor on the allowlist of unpinned apt packages`);
    }
  }
}

function checkNpm(words: string[], line: number, add: Add): void {
  if (words[0] === "npm" && (words[1] === "install" || words[1] === "i" || words[1] === "add")) {
    add("npm-ci", line, `npm ${words[1]} resolves versions anew; use npm ci, which installs package-lock.json exactly`);
  }
}
