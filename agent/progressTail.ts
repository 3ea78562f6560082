import { open } from "fs/promises";
import { parseProgressLine, takeCompleteLines, type EpochProgress } from "./progress";

/** Reads the lines appended to `progress.jsonl` since the last read, by byte offset. */
export class ProgressTail {
  private offset: number;

  constructor(
    private readonly path: string,
    startOffset = 0,
  ) {
    this.offset = startOffset;
  }

  /** Epoch lines appended since the last call, and complaints about lines that did not parse. */
  async read(): Promise<{ readonly epochs: EpochProgress[]; readonly invalid: string[] }> {
    let handle;
    try {
      handle = await open(this.path, "r");
    } catch {
      return { epochs: [], invalid: [] };
    }
    try {
      const { size } = await handle.stat();
      // The file was replaced by a shorter one (should not happen): read it from the start.
      if (size < this.offset) this.offset = 0;
      if (size === this.offset) return { epochs: [], invalid: [] };
      const bytes = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, this.offset);
      const { lines, consumed } = takeCompleteLines(bytes.subarray(0, bytesRead));
      this.offset += consumed;
      const epochs: EpochProgress[] = [];
      const invalid: string[] = [];
      for (const line of lines) {
        const parsed = parseProgressLine(line);
        if (parsed.kind === "epoch") epochs.push(parsed.progress);
        else if (parsed.kind === "invalid") invalid.push(parsed.reason);
      }
      return { epochs, invalid };
    } finally {
      await handle.close();
    }
  }
}
