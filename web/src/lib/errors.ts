import { TRPCClientError } from '@trpc/client';

/** What the dashboard shows for any failure: one shape, rendered by ErrorBox. */
export interface ShownError {
  /** The server's domain code (VALIDATION, POLICY_DENIED, …) or NETWORK / UNKNOWN. */
  code: string;
  message: string;
  issues: { path: string; message: string }[];
  /** Policy reasons (e.g. residency_mismatch) when the server gave them. */
  reasons: string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function stringsIn(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Pulls reasons out of an error's details, whichever way the policy layer nests them. */
function reasonsOf(details: unknown): string[] {
  if (!isRecord(details)) return [];
  const direct = stringsIn(details.reasons);
  const decisions = [...(Array.isArray(details.decisions) ? details.decisions : []), ...(Array.isArray(details.denials) ? details.denials : [])];
  const fromDecisions = decisions.flatMap((d) => (isRecord(d) && d.allow !== true ? stringsIn(d.reasons) : []));
  const single = typeof details.reason === 'string' ? [details.reason] : [];
  return [...new Set([...direct, ...fromDecisions, ...single])];
}

export function toShownError(e: unknown): ShownError {
  if (e instanceof TRPCClientError) {
    const data: unknown = e.data;
    if (isRecord(data)) {
      const issues = Array.isArray(data.issues)
        ? data.issues.filter(isRecord).map((i) => ({ path: String(i.path ?? ''), message: String(i.message ?? '') }))
        : [];
      const code = typeof data.appCode === 'string' ? data.appCode : typeof data.code === 'string' ? data.code : 'UNKNOWN';
      return { code, message: e.message, issues, reasons: reasonsOf(data.details) };
    }
    return { code: 'NETWORK', message: e.message || 'the server could not be reached', issues: [], reasons: [] };
  }
  if (e instanceof Error) return { code: 'UNKNOWN', message: e.message, issues: [], reasons: [] };
  return { code: 'UNKNOWN', message: String(e), issues: [], reasons: [] };
}
