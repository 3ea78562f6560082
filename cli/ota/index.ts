/**
 * The `yolo-train ota` group: work on a model's OTA bucket done by people, not by the stack
 * (`ota root sign`, cli/ota/rootSign.ts).
 */
import type { Command } from "commander";
import type { CommandIo } from "../commands/operateContext";
import { addRootSignCommand } from "./rootSign";

/**
 * Adds `ota root sign` to `program`, reusing an `ota` or `ota root` group already there. Built
 * with `.command()`, so the subcommands inherit the program's settings (exitOverride: a usage
 * error exits 2).
 */
export function registerOtaCommands(program: Command, io: CommandIo): void {
  const ota = program.commands.find((c) => c.name() === "ota") ?? program.command("ota").description("Work on a model's OTA bucket: its root of trust.");
  const root =
    ota.commands.find((c) => c.name() === "root") ??
    ota.command("root").description("The root of trust of a model's releases: which keys may sign releases, timestamps and the next root.");
  addRootSignCommand(root, io);
}
