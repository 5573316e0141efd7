import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical-json.ts';
import { validationError } from './errors.ts';

/**
 * The receipt is an in-toto Statement v1 (https://github.com/in-toto/attestation, spec v1) whose
 * one subject is the execution and whose predicate is MC's account of it. Anything that already
 * reads in-toto attestations (cosign, policy engines) can read a receipt without knowing MC.
 */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const RECEIPT_PREDICATE_TYPE = 'https://maestro-conductor.dev/receipt/v1';
const SUBJECT_PREFIX = 'mc-execution:';

export const receiptExecutionStatuses = ['succeeded', 'failed', 'cancelled', 'rolled_back', 'rejected'] as const;
// A receipt may be cut while some steps never ran (a failed or cancelled execution), so every
// step status can appear; 'cancelled' is accepted so a cancelled run can say which steps it stopped.
export const receiptStepStatuses = ['pending', 'queued', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
const digestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must look like "sha256:<64 hex digits>"');
// A string, not a number: Postgres numeric(12,4) arrives as "1.2500", and a float would make
// the canonical bytes depend on how a runtime prints it.
const decimalSchema = z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a decimal string such as "0.0125"');
const nonEmpty = z.string().min(1);
/** What a statement holds: an ISO-8601 UTC instant, as `Date.toISOString()` writes it. */
const isoTimestamp = z.iso.datetime();
/** What callers may hand in: a Date from the database or an ISO string; both become the string. */
const factTimestamp = z.union([z.date().transform((d) => d.toISOString()), isoTimestamp]);

// One shape for both directions, so the facts a caller passes and the statement a verifier
// parses can never drift apart; only the timestamp schema differs.
function predicateSchemaOver<T extends z.ZodType<string, unknown>>(timestamp: T) {
  return z.strictObject({
    execution: z.strictObject({
      id: nonEmpty,
      status: z.enum(receiptExecutionStatuses),
      region: nonEmpty,
      actor: z.strictObject({ sub: nonEmpty }),
      idempotencyToken: z.string().nullable(),
      createdAt: timestamp,
      startedAt: timestamp.nullable(),
      finishedAt: timestamp.nullable(),
      traceId: z.string().nullable(),
      rollout: z.string().nullable(),
      costUsd: decimalSchema,
      /** Added in issue 11 (optional, so earlier receipts still parse): the failed execution this rerun continues. */
      rerunOf: nonEmpty.optional(),
    }),
    workflow: z.strictObject({ id: nonEmpty, name: nonEmpty, version: nonEmpty, manifestDigest: digestSchema }),
    inputsDigest: digestSchema,
    // Null when the execution ended without outputs (failed, cancelled, rejected).
    outputsDigest: digestSchema.nullable(),
    steps: z.array(
      z.strictObject({
        taskId: nonEmpty,
        uses: nonEmpty,
        status: z.enum(receiptStepStatuses),
        attempts: z.number().int().min(0),
        startedAt: timestamp.nullable(),
        finishedAt: timestamp.nullable(),
        durationMs: z.number().int().min(0).nullable(),
        outputDigest: digestSchema.nullable(),
        error: z.string().nullable(),
      }),
    ),
    policy: z.strictObject({
      bundleDigest: digestSchema.nullable(),
      decisions: z.array(
        z.strictObject({ decisionId: nonEmpty, pack: nonEmpty, allow: z.boolean(), reasons: z.array(z.string()) }),
      ),
    }),
    runner: z.strictObject({ id: nonEmpty, version: nonEmpty }),
    /** Added in issue 11 (optional): who approved or rejected the run's approval steps. Absent when it had none. */
    approvals: z
      .array(
        z.strictObject({
          taskId: nonEmpty,
          actor: z.strictObject({ sub: nonEmpty, role: nonEmpty }),
          decision: z.enum(['approve', 'reject']),
          at: timestamp,
          comment: z.string().nullable(),
        }),
      )
      .optional(),
  });
}

export const receiptPredicateSchema = predicateSchemaOver(isoTimestamp);
export type ReceiptPredicate = z.infer<typeof receiptPredicateSchema>;

const receiptFactsSchema = predicateSchemaOver(factTimestamp);
/** What the server knows about a finished execution; timestamps may be Dates. */
export type ReceiptFacts = z.input<typeof receiptFactsSchema>;

export const receiptStatementSchema = z.strictObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.tuple([
    z.strictObject({
      name: z.string().startsWith(SUBJECT_PREFIX),
      digest: z.strictObject({ sha256: hex64 }),
    }),
  ]),
  predicateType: z.literal(RECEIPT_PREDICATE_TYPE),
  predicate: receiptPredicateSchema,
});
export type ReceiptStatement = z.infer<typeof receiptStatementSchema>;

export function receiptSubjectName(executionId: string): string {
  return `${SUBJECT_PREFIX}${executionId}`;
}

/** The subject digest: sha256 of the predicate's canonical JSON, so the subject pins every fact. */
export function predicateDigestHex(predicate: ReceiptPredicate): string {
  return sha256Hex(canonicalJson(predicate));
}

// Code-unit order, not localeCompare: the order must not depend on the machine's locale.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The statement for an execution. Same facts → byte-identical canonical JSON: keys are
 * canonicalised when serialised, and the lists whose order comes from a database query (steps,
 * policy decisions) are sorted here. Throws a VALIDATION AppError on facts that break the schema,
 * so an invalid receipt is never signed.
 */
export function buildStatement(facts: ReceiptFacts): ReceiptStatement {
  const parsed = receiptFactsSchema.safeParse(facts);
  if (!parsed.success) throw validationError(parsed.error, 'receipt facts');
  const { steps, policy, approvals, ...rest } = parsed.data;
  const predicate: ReceiptPredicate = {
    ...rest,
    ...(approvals && approvals.length > 0
      ? { approvals: [...approvals].sort((a, b) => compareText(a.taskId, b.taskId) || compareText(a.at, b.at) || compareText(a.actor.sub, b.actor.sub)) }
      : {}),
    steps: [...steps].sort((a, b) => compareText(a.taskId, b.taskId)),
    policy: {
      bundleDigest: policy.bundleDigest,
      decisions: [...policy.decisions].sort(
        (a, b) => compareText(a.pack, b.pack) || compareText(a.decisionId, b.decisionId),
      ),
    },
  };
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: receiptSubjectName(predicate.execution.id), digest: { sha256: predicateDigestHex(predicate) } }],
    predicateType: RECEIPT_PREDICATE_TYPE,
    predicate,
  };
}
