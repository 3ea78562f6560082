import * as fs from "fs";
import * as path from "path";
import type { Command } from "commander";
import { yoloTrainProgram } from "../../../cli/yoloTrain";
import { EXIT_CODES } from "../../../ota/edge/errors";

const DOC = fs.readFileSync(path.resolve(__dirname, "..", "..", "..", "docs", "edge.md"), "utf8");

function subcommand(...names: string[]): Command {
  let command = yoloTrainProgram();
  for (const name of names) command = command.commands.find((c) => c.name() === name)!;
  return command;
}

/** Every `yolo-train edge <sub> …` invocation in the doc's code blocks, continuation lines joined. */
function invocations(): Array<{ sub: string; flags: string[] }> {
  const code = [...DOC.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/\\\n\s*/g, " ")).join("\n");
  return [...code.matchAll(/yolo-train edge (pull|rollback|status)([^\n'|>]*)/g)].map((m) => ({ sub: m[1]!, flags: [...m[2]!.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((f) => f[0]) }));
}

describe("docs/edge.md", () => {
  it("uses only options the edge commands have", () => {
    const found = invocations();
    expect(found.length).toBeGreaterThanOrEqual(6);
    for (const { sub, flags } of found) {
      const known = subcommand("edge", sub).options.map((o) => o.long);
      for (const flag of flags) expect([sub, known.includes(flag) ? flag : `${flag} (unknown)`]).toEqual([sub, flag]);
    }
  });

  it("documents every exit code the edge commands use, with the same numbers", () => {
    for (const [kind, code] of Object.entries(EXIT_CODES)) {
      expect([kind, DOC]).toEqual([kind, expect.stringMatching(new RegExp(`\\n\\| ${code} \\|`))]);
    }
    expect(DOC).toMatch(/\n\| 0 \| installed, or already up to date/);
  });

  it("names the stack outputs an operator provisions from", () => {
    for (const output of ["otaRootPublicKeyPem", "otaRootKeyArn", "otaPublicKeyPem", "edgeReadPolicyArn", "otaBucketName"]) expect(DOC).toContain(`\`${output}\``);
  });
});
