/**
 * The build-context paths a Dockerfile's `COPY` and `ADD` instructions read, so a missing one is
 * reported when the stack is previewed instead of as a failed docker build mid-deployment. Pure.
 * Sources from another stage (`--from`), URLs and wildcard patterns are left out: they are not
 * plain paths of the context.
 * @see https://docs.docker.com/reference/dockerfile/#copy
 */
export function dockerfileCopySources(text: string): string[] {
  const sources: string[] = [];
  for (const instruction of logicalLines(text)) {
    const match = /^(COPY|ADD)\s+(.*)$/i.exec(instruction);
    if (!match) continue;
    const operands = splitOperands(match[2]!);
    if (operands.some((o) => /^--from=/i.test(o))) continue;
    const paths = operands.filter((o) => !o.startsWith("--")).slice(0, -1);
    for (const source of paths) {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /[*?[]/.test(source)) continue;
      sources.push(source.replace(/^\.\//, ""));
    }
  }
  return sources;
}

/** Instructions with `\` continuations joined; comments and blank lines dropped. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let current = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("#") || (line === "" && current === "")) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    out.push(current + line);
    current = "";
  }
  if (current.trim() !== "") out.push(current);
  return out;
}

/** `["a", "b"]` (JSON form) or whitespace-separated operands. */
function splitOperands(rest: string): string[] {
  const trimmed = rest.trim();
  const flags: string[] = [];
  let body = trimmed;
  // Flags come first in both forms: `COPY --chown=1000 ["a", "b"]`.
  for (let m = /^(--\S+)\s+/.exec(body); m; m = /^(--\S+)\s+/.exec(body)) {
    flags.push(m[1]!);
    body = body.slice(m[0].length);
  }
  if (body.startsWith("[")) {
    try {
      const parsed = JSON.parse(body) as unknown;
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === "string")) return [...flags, ...(parsed as string[])];
    } catch {
      // Not JSON: Docker reads it as the shell form too.
    }
  }
  return [...flags, ...body.split(/\s+/).filter((t) => t !== "")];
}
