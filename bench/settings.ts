/** The bench's knobs, from `bun run bench -- …` flags (bench/run.ts). */
export interface BenchSettings {
  quick: boolean;
  /** Repetitions behind every figure (its median is reported); at least 3. */
  runs: number;
  workerConcurrency: number;
  poolSize: number;
  /** Load generator: requests in flight, and executions submitted but not yet completed. */
  clientConcurrency: number;
  maxInFlight: number;
  soakMinutes: number;
  /** Synthetic executions in the table for the list-latency growth check. */
  growthRows: number;
}
