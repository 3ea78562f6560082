/**
 * Writes zip archives for tests of the agent's zip check (agent/checkpointIntegrity.ts), with the
 * offsets of their records so a test can damage one on purpose. CRCs are left 0: nothing here reads
 * them. For an independent reading of an archive see zipArchive.ts.
 */

export interface StoredZipOptions {
  /** Write the zip64 end record and locator before the end record, as `torch.save` always does. */
  readonly zip64?: boolean;
  /** Saturate each entry's 32-bit sizes and offset and carry them in a zip64 extra field (archives past 4 GiB). */
  readonly zip64Entries?: boolean;
  readonly comment?: string;
}

/** Offsets of an archive's records, for damaging them on purpose. */
export interface StoredZipLayout {
  readonly localHeaders: number[];
  readonly centralHeaders: number[];
  readonly centralDirectory: number;
  readonly zip64EndRecord?: number;
  readonly zip64Locator?: number;
  readonly endRecord: number;
}

/**
 * A stored (uncompressed) zip as `torch.save` lays it out: each local header carries a padding extra
 * field, then the central directory, then (zip64) the zip64 end record and locator, then the end record.
 */
export function storedZip(entries: ReadonlyArray<readonly [string, Buffer]>, options: StoredZipOptions = {}): { bytes: Buffer; layout: StoredZipLayout } {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer): number => {
    parts.push(b);
    const at = offset;
    offset += b.length;
    return at;
  };
  const localHeaders: number[] = [];
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name);
    const padding = Buffer.alloc(4 + 6);
    padding.writeUInt16LE(0x4246, 0); // "FB": torch pads so tensor data starts aligned
    padding.writeUInt16LE(6, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(padding.length, 28);
    localHeaders.push(push(Buffer.concat([local, nameBytes, padding, data])));
  }
  const centralDirectory = offset;
  const centralHeaders: number[] = [];
  entries.forEach(([name, data], i) => {
    const nameBytes = Buffer.from(name);
    const extra = options.zip64Entries ? Buffer.alloc(4 + 24) : Buffer.alloc(0);
    if (options.zip64Entries) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(data.length), 4);
      extra.writeBigUInt64LE(BigInt(data.length), 12);
      extra.writeBigUInt64LE(BigInt(localHeaders[i]!), 20);
    }
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt32LE(options.zip64Entries ? 0xffffffff : data.length, 20);
    central.writeUInt32LE(options.zip64Entries ? 0xffffffff : data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(options.zip64Entries ? 0xffffffff : localHeaders[i]!, 42);
    centralHeaders.push(push(Buffer.concat([central, nameBytes, extra])));
  });
  const directoryBytes = offset - centralDirectory;
  let zip64EndRecord: number | undefined;
  let zip64Locator: number | undefined;
  if (options.zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeBigUInt64LE(BigInt(entries.length), 24);
    record.writeBigUInt64LE(BigInt(entries.length), 32);
    record.writeBigUInt64LE(BigInt(directoryBytes), 40);
    record.writeBigUInt64LE(BigInt(centralDirectory), 48);
    zip64EndRecord = push(record);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(zip64EndRecord), 8);
    locator.writeUInt32LE(1, 16);
    zip64Locator = push(locator);
  }
  const comment = Buffer.from(options.comment ?? "");
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directoryBytes, 12);
  end.writeUInt32LE(centralDirectory, 16);
  end.writeUInt16LE(comment.length, 20);
  const endRecord = push(Buffer.concat([end, comment]));
  return {
    bytes: Buffer.concat(parts),
    layout: { localHeaders, centralHeaders, centralDirectory, ...(zip64EndRecord !== undefined ? { zip64EndRecord, zip64Locator } : {}), endRecord },
  };
}
