import * as fs from "fs";
import * as path from "path";
import { CONFIG_KEYS } from "../config";

const ROOT = path.resolve(__dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

describe("the docs", () => {
  const readme = read("README.md");
  const configDoc = read("docs/config.md");

  it.each(CONFIG_KEYS.map((k) => k.key))("document the config key `%s` in the README and docs/config.md", (key) => {
    expect(readme).toMatch(new RegExp("`" + key + "`"));
    expect(configDoc).toMatch(new RegExp("`" + key + "`"));
  });

  it("start the README with the two commands that work on a fresh machine", () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(firstBlock).toContain("npm ci && npm run plan");
    expect(firstBlock).toContain("npm test");
  });

  it("keep .ci/run running exactly the README's test command after a clean install", () => {
    const ci = read(".ci/run");
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});
