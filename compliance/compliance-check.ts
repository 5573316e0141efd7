/**
 * `bun run compliance`: spec §18's merge-gate checklist as checks that can fail
 * (docs/compliance/CHECKLIST.md maps each checklist line to its check). Each check returns
 * pass/fail with the evidence it looked at; the runner exits non-zero when any fails.
 */
export interface CheckResult {
  ok: boolean;
  /** One line each: what was checked and what was found. */
  details: string[];
}

export interface ComplianceOptions {
  /** The repository tree scanned for secrets and docs. */
  root: string;
  sbomPath: string;
  lockfilePath: string;
  lcovPath: string;
  /** Audit events (NDJSON) to validate instead of those of the sample execution. */
  eventsPath: string | null;
  advisoriesPath: string;
  /** Skip the live `bun audit` and use the committed advisory snapshot. */
  offline: boolean;
}

export interface Check {
  id: string;
  /** The spec §18 checklist line it implements. */
  checklist: string;
  run(opts: ComplianceOptions, shared: SharedEvidence): Promise<CheckResult>;
}

/** Evidence produced once and used by several checks (the sample execution's events). */
export interface SharedEvidence {
  sampleEvents?: unknown[];
}

export const pass = (...details: string[]): CheckResult => ({ ok: true, details });
export const fail = (...details: string[]): CheckResult => ({ ok: false, details });
