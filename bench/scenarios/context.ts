import type { BenchOptions } from '../lib/args.js';
import type { Dataset } from '../lib/dataset.js';
import type { HttpClient } from '../lib/http.js';
import type { CastellanEnv } from '../lib/processes.js';

/** What every scenario gets from the run. */
export interface BenchContext {
  options: BenchOptions;
  dataset: Dataset;
  env: CastellanEnv;
  http: HttpClient;
  log(message: string): void;
}

export type Skipped = { status: 'skipped'; reason: string };
