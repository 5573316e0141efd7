import { isPolicyPack, pdpReasons, type PdpBackend, type PolicyDecision, type PolicyPack, type PolicyVerdict } from '@mc/shared/policy';
import { policyBundleDigest } from './bundle-digest.ts';
import { evaluatePack } from './embedded-engine.ts';
import { admitPolicyInput, DEFAULT_MAX_POLICY_INPUT_CHARS } from './input-guard.ts';
import { queryOpa } from './opa-client.ts';
import { pdpLatencySeconds } from '../observability/metrics.ts';

/**
 * The policy decision point: one `decide` whatever answers behind it (config `MC_PDP`).
 * Fail-closed everywhere: invalid input, an unreachable or confused OPA, a bug in the embedded
 * engine, an unreadable bundle digest — each is a deny with a reason, never an allow or a throw.
 */
export interface PdpOptions {
  /** `MC_PDP`. */
  backend: PdpBackend;
  /** `OPA_URL`, the Data API root such as `http://127.0.0.1:8181/v1/data`; required for `opa`. */
  opaUrl?: string;
  /** `MC_PDP_TIMEOUT_MS`: the whole OPA round trip, body included. */
  timeoutMs: number;
  /** Tests and tools may pin the digest; by default policy/bundles.sha256 is read once. */
  bundleDigest?: () => Promise<string>;
  maxInputChars?: number;
  /** Why OPA did not answer (the decision itself only says `pdp_unavailable`). Pino-compatible. */
  logger?: { warn(details: object, message: string): void };
}

export interface Pdp {
  readonly backend: PdpBackend;
  decide(pack: PolicyPack, input: unknown): Promise<PolicyDecision>;
}

export const DEFAULT_PDP_TIMEOUT_MS = 200;
const UNKNOWN_DIGEST = 'unknown';

export function createPdp(opts: PdpOptions): Pdp {
  const { backend, opaUrl } = opts;
  // A misconfiguration stops start-up; only `decide` promises never to throw.
  if (backend === 'opa' && (opaUrl === undefined || opaUrl === '')) throw new Error('MC_PDP=opa needs OPA_URL');
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) throw new Error('MC_PDP_TIMEOUT_MS must be a positive number');
  const loadDigest = opts.bundleDigest ?? (() => policyBundleDigest());
  const maxInputChars = opts.maxInputChars ?? DEFAULT_MAX_POLICY_INPUT_CHARS;
  let digest: Promise<string> | undefined;

  /** Cached once read; a failed read is retried on the next decision rather than remembered. */
  async function bundleDigest(): Promise<string | undefined> {
    digest ??= loadDigest();
    try {
      return await digest;
    } catch (error) {
      digest = undefined;
      opts.logger?.warn({ err: error }, 'policy bundle digest unreadable; denying');
      return undefined;
    }
  }

  async function verdictFor(pack: PolicyPack, input: unknown): Promise<PolicyVerdict> {
    if (!isPolicyPack(pack)) return deny(pdpReasons.invalidInput);
    const admitted = admitPolicyInput(pack, input, maxInputChars);
    if (!admitted.ok) return deny(pdpReasons.invalidInput);
    if (backend === 'embedded' || opaUrl === undefined) return evaluatePack(pack, admitted.input);
    const answer = await queryOpa({ url: opaUrl, timeoutMs: opts.timeoutMs }, pack, admitted.json);
    if (answer.ok) return answer.verdict;
    opts.logger?.warn({ pack, cause: answer.cause }, 'OPA gave no decision; denying');
    return deny(pdpReasons.unavailable);
  }

  return {
    backend,
    async decide(pack, input) {
      const started = performance.now();
      const decisionId = Bun.randomUUIDv7();
      let verdict: PolicyVerdict;
      try {
        verdict = await verdictFor(pack, input);
      } catch {
        // Unreachable by design (each step is total); kept so a future bug still fails closed.
        verdict = deny(pdpReasons.error);
      }
      const digestValue = await bundleDigest();
      if (digestValue === undefined) verdict = deny(pdpReasons.error);
      pdpLatencySeconds.observe({ pack, backend }, (performance.now() - started) / 1000);
      return {
        ...normalize(verdict),
        pack,
        bundleDigest: digestValue ?? UNKNOWN_DIGEST,
        latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
        decisionId,
        backend,
      };
    },
  };
}

function deny(reason: string): PolicyVerdict {
  return { allow: false, reasons: [reason] };
}

/** Sorted, de-duplicated reasons; allow only with none; a bare deny still says something. */
function normalize(verdict: PolicyVerdict): PolicyVerdict {
  const reasons = [...new Set(verdict.reasons)].sort();
  if (verdict.allow && reasons.length === 0) return { allow: true, reasons };
  return { allow: false, reasons: reasons.length > 0 ? reasons : [pdpReasons.deniedWithoutReason] };
}
