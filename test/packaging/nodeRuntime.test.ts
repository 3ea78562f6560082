import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

/**
 * One Node.js major runs the product: 22 (LTS) in the image's agent stage (whose node binary the
 * runtime stage copies), as the esbuild target of the bundles, and in the workflows that run the
 * program. Development machines stay on 20 (engines >=20), so the tests run on both.
 */
const ROOT = path.resolve(__dirname, "..", "..");
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), "utf8");
const PRODUCT_MAJOR = 22;

describe("the product's Node.js", () => {
  it("is the agent stage's exact node:22 image", () => {
    const from = /^FROM\s+(\S+)\s+AS\s+agent\s*$/im.exec(read("docker/Dockerfile"))?.[1];
    expect(from).toMatch(new RegExp(`^node:${PRODUCT_MAJOR}\\.\\d+\\.\\d+-bookworm-slim$`));
  });

  it("is the esbuild target of the agent and Lambda bundles, in both manifests", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    const stage = (JSON.parse(read("docker/agent/package.json")) as { scripts: Record<string, string> }).scripts;
    for (const command of [scripts["build:agent"], scripts["build:lambda"], stage["build:agent"]]) {
      expect(command).toMatch(new RegExp(`--target=node${PRODUCT_MAJOR}(\\s|$)`));
    }
  });

  it("runs the workflows' jobs: 22 where they run the program, 20 and 22 where they test", () => {
    type Step = { uses?: string; with?: Record<string, unknown> };
    type Job = { strategy?: { matrix?: Record<string, unknown> }; steps: Step[] };
    const dir = path.join(ROOT, ".github", "workflows");
    const versions: string[] = [];
    for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
      const jobs = (parseYaml(read(`.github/workflows/${file}`)) as { jobs: Record<string, Job> }).jobs;
      for (const [name, job] of Object.entries(jobs)) {
        for (const step of job.steps.filter((s) => s.uses?.startsWith("actions/setup-node@"))) {
          const version = step.with?.["node-version"];
          const resolved = version === "${{ matrix.node }}" ? job.strategy?.matrix?.node : version;
          versions.push(`${file} ${name}: ${JSON.stringify(resolved)}`);
          if (Array.isArray(resolved)) {
            expect({ file, name, matrix: resolved }).toEqual({ file, name, matrix: [20, PRODUCT_MAJOR] });
          } else {
            expect({ file, name, version: resolved }).toEqual({ file, name, version: PRODUCT_MAJOR });
          }
        }
      }
    }
    expect(versions.length).toBeGreaterThan(0);
  });
});
