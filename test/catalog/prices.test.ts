import * as fs from "fs";
import * as path from "path";
import { PRICE_SNAPSHOT, catalogRegions, priceOf, regionsOffering } from "../../catalog";
import { allPrices, parsePriceCsv } from "../../catalog/prices";

const HEADER =
  "instance_type,gpu,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,on_demand_usd_per_hour,spot_min_usd_per_hour,spot_median_usd_per_hour,spot_zones";
const GOOD_ROW = "g4dn.xlarge,T4,1,16.0,4,16,us-east-1,0.526,0.2000,0.2039,5";

describe("bundled price snapshot", () => {
  it("is a verbatim copy of the shared snapshot, with its provenance", () => {
    const bundled = path.join(__dirname, "../../catalog/data");
    const md = fs.readFileSync(path.join(bundled, "aws-gpu-prices.md"), "utf8");
    expect(md).toContain(PRICE_SNAPSHOT.commit);
    expect(md).toContain("skypilot-org/skypilot-catalog");
    expect(allPrices()).toHaveLength(98);
  });

  it("looks up on-demand, spot min and spot median for a pair", () => {
    expect(priceOf("g4dn.xlarge", "us-east-1")).toEqual({
      instanceType: "g4dn.xlarge",
      region: "us-east-1",
      onDemandUsdPerHour: 0.526,
      spotMinUsdPerHour: 0.2,
      spotMedianUsdPerHour: 0.2039,
    });
  });

  it.each([
    ["g6.xlarge", "eu-west-1"],
    ["g6e.12xlarge", "eu-west-1"],
    ["p4de.24xlarge", "eu-west-1"],
    ["p5.48xlarge", "eu-central-1"],
    ["g4dn.xlarge", "sa-east-1"],
    ["m5.large", "us-east-1"],
  ])("has no price for %s in %s", (type, region) => {
    expect(priceOf(type, region)).toBeUndefined();
  });

  it("leaves spot prices undefined where no zone had a spot sample", () => {
    const p5 = priceOf("p5.4xlarge", "us-east-1");
    expect(p5?.onDemandUsdPerHour).toBe(6.88);
    expect(p5).not.toHaveProperty("spotMinUsdPerHour");
    expect(p5).not.toHaveProperty("spotMedianUsdPerHour");
  });

  it("lists the snapshot's regions", () => {
    expect(catalogRegions()).toEqual(["ap-northeast-1", "eu-central-1", "eu-west-1", "us-east-1", "us-west-2"]);
  });

  it("lists the regions offering a type", () => {
    expect(regionsOffering("g6.xlarge")).toEqual(["ap-northeast-1", "eu-central-1", "us-east-1", "us-west-2"]);
    expect(regionsOffering("p5.4xlarge")).toEqual(["ap-northeast-1", "us-east-1", "us-west-2"]);
    expect(regionsOffering("nope.xlarge")).toEqual([]);
  });

  it("never has a spot minimum above the median", () => {
    for (const row of allPrices()) {
      if (row.spotMinUsdPerHour !== undefined && row.spotMedianUsdPerHour !== undefined) {
        expect(row.spotMinUsdPerHour).toBeLessThanOrEqual(row.spotMedianUsdPerHour);
      }
    }
  });
});

describe("parsePriceCsv", () => {
  it("parses a well-formed file, with or without a trailing newline and CRLF", () => {
    expect(parsePriceCsv(`${HEADER}\n${GOOD_ROW}\n`)).toHaveLength(1);
    expect(parsePriceCsv(`${HEADER}\r\n${GOOD_ROW}`)).toHaveLength(1);
  });

  it("turns empty spot cells into undefined", () => {
    const [row] = parsePriceCsv(`${HEADER}\np5.4xlarge,H100,1,80.0,16,256,us-east-1,6.88,,,6\n`);
    expect(row?.spotMinUsdPerHour).toBeUndefined();
    expect(row?.spotMedianUsdPerHour).toBeUndefined();
    expect(row?.spotZones).toBe(6);
  });

  it("rejects a wrong header, naming line 1", () => {
    expect(() => parsePriceCsv(`instance,gpu\n${GOOD_ROW}\n`)).toThrow(/line 1: expected header/);
  });

  it.each([
    ["a missing cell", "g4dn.xlarge,T4,1,16.0,4,16,us-east-1,0.526,0.2000,0.2039", /line 3: expected 11 cells, found 10/],
    ["an extra cell", `${GOOD_ROW},x`, /line 3: expected 11 cells, found 12/],
    ["a non-numeric price", "g4dn.xlarge,T4,1,16.0,4,16,us-east-1,cheap,0.2000,0.2039,5", /line 3: on_demand_usd_per_hour must be a non-negative decimal number, got "cheap"/],
    ["a negative price", "g4dn.xlarge,T4,1,16.0,4,16,us-east-1,-0.5,0.2000,0.2039,5", /line 3: on_demand_usd_per_hour/],
    ["a zero price", "g4dn.xlarge,T4,1,16.0,4,16,us-east-1,0,0.2000,0.2039,5", /line 3: on_demand_usd_per_hour must be greater than 0/],
    ["a fractional GPU count", "g4dn.xlarge,T4,1.5,16.0,4,16,us-east-1,0.526,0.2000,0.2039,5", /line 3: gpu_count must be a whole number/],
    ["only one spot figure", "g4dn.xlarge,T4,1,16.0,4,16,us-east-1,0.526,0.2000,,5", /line 3: spot_min_usd_per_hour and spot_median_usd_per_hour must both be set or both be empty/],
    ["spot min above median", "g4dn.xlarge,T4,1,16.0,4,16,us-east-1,0.526,0.3000,0.2039,5", /line 3: spot_min_usd_per_hour 0.3 is above/],
    ["a bad region", "g4dn.xlarge,T4,1,16.0,4,16,US East,0.526,0.2000,0.2039,5", /line 3: region "US East" is not an AWS region name/],
    ["a bad instance type", "g4dn,T4,1,16.0,4,16,us-east-1,0.526,0.2000,0.2039,5", /line 3: instance_type "g4dn" is not an EC2 instance type name/],
    ["a blank line", "", /line 3: expected 11 cells, found 1/],
    ["a duplicate pair", GOOD_ROW, /line 3: duplicate row for g4dn.xlarge in us-east-1/],
  ])("rejects %s, naming the line", (_what, badRow, message) => {
    // Line 2 is a good row, so the error must point at line 3, not at the first data line.
    expect(() => parsePriceCsv(`${HEADER}\n${GOOD_ROW}\n${badRow}\nx\n`)).toThrow(message);
  });
});
