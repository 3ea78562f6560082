/**
 * Reading a Dockerfile's instructions, and the build-context paths its `COPY` and `ADD` lines
 * read, so a missing one is reported when the stack is previewed instead of as a failed docker
 * build mid-deployment. Pure. test/docker/dockerfileLint.ts builds its stricter checks on the
 * same reader.
 * @see https://docs.docker.com/reference/dockerfile/
 */

export interface DockerfileInstruction {
  /** Upper case: `FROM`, `RUN`, `COPY`, …; `""` for a line that is no instruction. */
  readonly keyword: string;
  /** Everything after the keyword, continuations joined with a space (the whole text when `keyword` is `""`). */
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
}

/**
 * The instructions in order. Comment lines (parser directives too) and blank lines are skipped,
 * also between `\` continuation lines; a continued instruction is one instruction.
 */
export function dockerfileInstructions(text: string): DockerfileInstruction[] {
  const lines = text.split(/\r?\n/);
  const out: DockerfileInstruction[] = [];
  const finish = (logical: { text: string; line: number }): void => {
    const match = /^\s*([A-Za-z]+)(?:\s+([\s\S]*))?$/.exec(logical.text);
    out.push(match ? { keyword: match[1]!.toUpperCase(), args: (match[2] ?? "").trim(), line: logical.line } : { keyword: "", args: logical.text.trim(), line: logical.line });
  };
  let pending: { text: string; line: number } | undefined;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#") || trimmed === "") return;
    const continues = /\\\s*$/.test(raw);
    const piece = (continues ? raw.replace(/\\\s*$/, "") : raw).trimEnd();
    pending = pending === undefined ? { text: piece, line: i + 1 } : { text: `${pending.text} ${piece.trim()}`, line: pending.line };
    if (!continues) {
      finish(pending);
      pending = undefined;
    }
  });
  if (pending !== undefined) finish(pending);
  return out;
}

/** Leading `--flag=value` tokens, and the rest split on whitespace. */
export function withoutFlags(args: string): { flags: Map<string, string>; tokens: string[] } {
  const tokens = args.split(/\s+/).filter((t) => t !== "");
  const flags = new Map<string, string>();
  while (tokens.length > 0 && tokens[0]!.startsWith("--")) {
    const [key, ...value] = tokens.shift()!.slice(2).split("=");
    flags.set(key!, value.join("="));
  }
  return { flags, tokens };
}

/** Exec form `["a", "b"]` as an array; undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((p) => typeof p === "string") ? (parsed as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The context paths `COPY` and `ADD` read. Sources from another stage (`--from`), URLs and
 * wildcard patterns are left out: they are not plain paths of the context.
 */
export function dockerfileCopySources(text: string): string[] {
  const sources: string[] = [];
  for (const { keyword, args } of dockerfileInstructions(text)) {
    if (keyword !== "COPY" && keyword !== "ADD") continue;
    const { flags, tokens } = withoutFlags(args);
    if (flags.has("from")) continue;
    const parts = execForm(tokens.join(" ")) ?? tokens;
    for (const source of parts.slice(0, -1)) {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /[*?[]/.test(source)) continue;
      sources.push(source.replace(/^\.\//, ""));
    }
  }
  return sources;
}
