import { DEFAULTS } from "../defaults";
import { parseDataSource, parseModelSource } from "../sources";
import type { DataSource, DatasetMount, ModelSource } from "../types";
import type { ConfigValues } from "./context";

/** Where the starting weights and the data come from, and how the node reads the data. */
export interface SourcesPart {
  readonly model?: string;
  readonly modelSource?: ModelSource;
  readonly data?: string;
  readonly dataSource?: DataSource;
  readonly datasetImages?: number;
  readonly datasetMount?: DatasetMount;
}

/**
 * `model`, `data`, `datasetImages` and `datasetMount` with their defaults. Their own rules
 * (config/schema.ts) say everything wrong with them; here they are read as their sources.
 */
export function checkSources(values: ConfigValues): SourcesPart {
  const model = values.resolve<string>("model", DEFAULTS.model);
  const data = values.resolve<string>("data", DEFAULTS.data);
  const modelSource = model !== undefined ? parseModelSource(model) : undefined;
  const dataSource = data !== undefined ? parseDataSource(data) : undefined;
  const datasetImages = values.value<number>("datasetImages");
  const datasetMount = values.resolve<DatasetMount>("datasetMount", DEFAULTS.datasetMount);
  return {
    ...(model !== undefined ? { model } : {}),
    ...(modelSource !== undefined ? { modelSource } : {}),
    ...(data !== undefined ? { data } : {}),
    ...(dataSource !== undefined ? { dataSource } : {}),
    ...(datasetImages !== undefined ? { datasetImages } : {}),
    ...(datasetMount !== undefined ? { datasetMount } : {}),
  };
}
