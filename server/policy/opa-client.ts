import { z } from 'zod';
import { policyVerdictSchema, type PolicyPack, type PolicyVerdict } from '@mc/shared/policy';

/**
 * OPA's Data API: `POST {OPA_URL}/mc/<pack>` with `{"input": …}` answers `{"result": {allow,
 * reasons}}` (https://www.openpolicyagent.org/docs/rest-api#get-a-document-with-input). OPA_URL
 * ends at the data root, e.g. `http://127.0.0.1:8181/v1/data`.
 */
export interface OpaClientOptions {
  url: string;
  timeoutMs: number;
}

export type OpaAnswer = { ok: true; verdict: PolicyVerdict } | { ok: false; cause: string };

const answerSchema = z.object({ result: policyVerdictSchema });
/** A real answer is a few hundred bytes; anything this large is not one. */
const MAX_ANSWER_CHARS = 1024 * 1024;

export function opaEndpoint(url: string, pack: PolicyPack): string {
  return `${url.replace(/\/+$/, '')}/mc/${pack}`;
}

/**
 * Never throws. The timeout covers connecting, headers and body alike (the signal aborts the
 * body stream too), so a peer that stalls mid-answer is still cut off.
 */
export async function queryOpa(opts: OpaClientOptions, pack: PolicyPack, inputJson: string): Promise<OpaAnswer> {
  let text: string;
  try {
    const response = await fetch(opaEndpoint(opts.url, pack), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"input":${inputJson}}`,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      return { ok: false, cause: `status ${response.status}` };
    }
    text = await response.text();
  } catch (error) {
    const name = error instanceof Error ? error.name : 'unknown';
    return { ok: false, cause: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : `fetch failed: ${name}` };
  }
  if (text.length > MAX_ANSWER_CHARS) return { ok: false, cause: 'answer too large' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, cause: 'answer is not JSON' };
  }
  // OPA answers `{}` when the document is undefined (pack not loaded): that is not a decision.
  const parsed = answerSchema.safeParse(body);
  return parsed.success ? { ok: true, verdict: parsed.data.result } : { ok: false, cause: 'answer has no {allow, reasons} result' };
}
