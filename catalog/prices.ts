import * as fs from "fs";
import * as path from "path";
import { isAwsRegion } from "../runspec/awsPatterns";
import type { InstancePrice } from "./types";

/**
 * Where the bundled prices come from. The snapshot has no collection date: it is a sample,
 * not current AWS pricing (see catalog/data/aws-gpu-prices.md).
 */
export const PRICE_SNAPSHOT = {
  source: "skypilot-org/skypilot-catalog, catalogs/v8/aws/vms.csv",
  commit: "e385a0d348eda9cefd9806423e7725944dc249e4",
  note:
    "Dated snapshot of unknown collection date (2025–2026), one spot sample per availability zone; " +
    "not current AWS pricing. Spot estimates use the median over a region's zones.",
} as const;

const EXPECTED_HEADER = [
  "instance_type",
  "gpu",
  "gpu_count",
  "gpu_memory_gib",
  "vcpus",
  "memory_gib",
  "region",
  "on_demand_usd_per_hour",
  "spot_min_usd_per_hour",
  "spot_median_usd_per_hour",
  "spot_zones",
] as const;

/** One row of the price CSV, as parsed. The hardware columns let tests cross-check the catalog. */
export interface PriceRow extends InstancePrice {
  /** GPU model as the snapshot names it (`T4`, `A10G`, `A100-80GB`, …). */
  readonly gpuModel: string;
  readonly gpuCount: number;
  readonly gpuMemoryGiB: number;
  readonly vcpus: number;
  readonly memoryGiB: number;
  /** Zone rows behind the spot figures, including zones without a spot price. */
  readonly spotZones: number;
}

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

/**
 * Parses the price CSV strictly: exact header, 11 plain (unquoted) cells per row, numbers where
 * numbers belong, no duplicate (type, region) pair. Throws naming the 1-based line on the first
 * malformed row, so a bad edit to the bundled data fails loudly at load, not as a wrong estimate.
 */
export function parsePriceCsv(text: string): PriceRow[] {
  const lines = text.split(/\r?\n/);
  // A trailing newline leaves one empty last element; blank lines elsewhere are errors.
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const header = lines[0];
  if (header === undefined || header !== EXPECTED_HEADER.join(",")) {
    throw new Error(`price CSV line 1: expected header "${EXPECTED_HEADER.join(",")}", got "${header ?? ""}"`);
  }
  const rows: PriceRow[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i] as string;
    const fail = (why: string): never => {
      throw new Error(`price CSV line ${lineNo}: ${why}: "${line}"`);
    };
    const cells = line.split(",");
    if (cells.length !== EXPECTED_HEADER.length) {
      fail(`expected ${EXPECTED_HEADER.length} cells, found ${cells.length}`);
    }
    const [instanceType, gpuModel, gpuCount, gpuMem, vcpus, mem, region, onDemand, spotMin, spotMedian, spotZones] =
      cells as [string, string, string, string, string, string, string, string, string, string, string];

    const number = (column: string, cell: string, opts: { integer?: boolean; positive?: boolean } = {}): number => {
      if (!DECIMAL.test(cell)) fail(`${column} must be a non-negative decimal number, got "${cell}"`);
      const value = Number(cell);
      if (opts.integer && !Number.isInteger(value)) fail(`${column} must be a whole number, got "${cell}"`);
      if (opts.positive && !(value > 0)) fail(`${column} must be greater than 0, got "${cell}"`);
      return value;
    };
    const optionalNumber = (column: string, cell: string): number | undefined =>
      cell === "" ? undefined : number(column, cell, { positive: true });

    if (!INSTANCE_TYPE.test(instanceType)) fail(`instance_type "${instanceType}" is not an EC2 instance type name`);
    if (gpuModel === "") fail("gpu is empty");
    if (!isAwsRegion(region)) fail(`region "${region}" is not an AWS region name`);
    const min = optionalNumber("spot_min_usd_per_hour", spotMin);
    const median = optionalNumber("spot_median_usd_per_hour", spotMedian);
    if ((min === undefined) !== (median === undefined)) {
      fail("spot_min_usd_per_hour and spot_median_usd_per_hour must both be set or both be empty");
    }
    if (min !== undefined && median !== undefined && min > median) {
      fail(`spot_min_usd_per_hour ${min} is above spot_median_usd_per_hour ${median}`);
    }

    const row: PriceRow = {
      instanceType,
      region,
      gpuModel,
      gpuCount: number("gpu_count", gpuCount, { integer: true, positive: true }),
      gpuMemoryGiB: number("gpu_memory_gib", gpuMem, { positive: true }),
      vcpus: number("vcpus", vcpus, { integer: true, positive: true }),
      memoryGiB: number("memory_gib", mem, { positive: true }),
      onDemandUsdPerHour: number("on_demand_usd_per_hour", onDemand, { positive: true }),
      spotZones: number("spot_zones", spotZones, { integer: true }),
      ...(min !== undefined ? { spotMinUsdPerHour: min } : {}),
      ...(median !== undefined ? { spotMedianUsdPerHour: median } : {}),
    };
    const key = `${instanceType}@${region}`;
    if (seen.has(key)) fail(`duplicate row for ${instanceType} in ${region}`);
    seen.add(key);
    rows.push(Object.freeze(row));
  }
  return rows;
}

// Loaded once at module load. The package ships catalog/data beside the compiled catalog code, so
// this path must stay valid in the build output too (dist/catalog/data/…).
const PRICE_CSV_PATH = path.join(__dirname, "data", "aws-gpu-prices.csv");
const ROWS: readonly PriceRow[] = Object.freeze(parsePriceCsv(fs.readFileSync(PRICE_CSV_PATH, "utf8")));
const BY_KEY = new Map<string, PriceRow>(ROWS.map((r) => [`${r.instanceType}@${r.region}`, r]));

/** Every row of the bundled snapshot, including types outside yolo-train's GPU classes (P3, H200). */
export function allPrices(): readonly PriceRow[] {
  return ROWS;
}

/** Prices of one type in one region; undefined when the snapshot has no such pair. */
export function priceOf(instanceType: string, region: string): InstancePrice | undefined {
  const row = BY_KEY.get(`${instanceType}@${region}`);
  if (row === undefined) return undefined;
  return {
    instanceType: row.instanceType,
    region: row.region,
    onDemandUsdPerHour: row.onDemandUsdPerHour,
    ...(row.spotMinUsdPerHour !== undefined ? { spotMinUsdPerHour: row.spotMinUsdPerHour } : {}),
    ...(row.spotMedianUsdPerHour !== undefined ? { spotMedianUsdPerHour: row.spotMedianUsdPerHour } : {}),
  };
}

/** Regions present in the price snapshot, sorted. */
export function catalogRegions(): string[] {
  return [...new Set(ROWS.map((r) => r.region))].sort();
}

/** Regions where the snapshot has a price for this type, sorted; empty for unknown types. */
export function regionsOffering(instanceType: string): string[] {
  return ROWS.filter((r) => r.instanceType === instanceType)
    .map((r) => r.region)
    .sort();
}
