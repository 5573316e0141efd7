import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { and, eq } from 'drizzle-orm';
import type { Deps } from '@mc/server/deps';
import { executions, executionSteps } from '@mc/server/db/schema';
import { taskDurationSeconds } from '@mc/server/observability/metrics';
import { context, contextFromTraceparent, SpanKind, SpanStatusCode, trace, traceLogKeys, tracer } from '@mc/server/observability/tracing';
import { taskJobSchema } from '@mc/server/queue/task-queues';

type Processor = (job: Job, token?: string) => Promise<unknown>;

interface TaskFacts {
  workflowId: string;
  uses: string;
}

/** (execution, task) → workflow id and package, for labels and log keys; bounded, kept across retries. */
const factsCache = new Map<string, TaskFacts>();
const maxCachedFacts = 10_000;

async function taskFacts(deps: Pick<Deps, 'db'>, executionId: string, taskId: string): Promise<TaskFacts | null> {
  const key = `${executionId}.${taskId}`;
  const cached = factsCache.get(key);
  if (cached) return cached;
  const [row] = await deps.db
    .select({ workflowId: executions.workflowId, uses: executionSteps.uses })
    .from(executionSteps)
    .innerJoin(executions, eq(executions.id, executionSteps.executionId))
    .where(and(eq(executionSteps.executionId, executionId), eq(executionSteps.taskId, taskId)))
    .limit(1);
  if (!row) return null;
  factsCache.set(key, row);
  while (factsCache.size > maxCachedFacts) factsCache.delete(factsCache.keys().next().value as string);
  return row;
}

/**
 * Wraps the task processor in its telemetry: a span per task attempt, child of the span whose
 * `traceparent` the job carries (the request that started the execution); a JSON log line when
 * the attempt starts and one when it ends (spec §5 keys: trace_id, span_id, workflow.id, exec.id);
 * and `mc_task_duration_seconds` by package and outcome. The processor itself runs inside the
 * span, so its own log lines carry the same ids.
 */
export function instrumentTaskProcessor(deps: Deps, processor: Processor): Processor {
  return async (job, token) => {
    const parsed = taskJobSchema.safeParse(job.data);
    if (!parsed.success) return processor(job, token);
    const { executionId, taskId, traceparent, workflowId, uses } = parsed.data;
    const facts = workflowId && uses ? { workflowId, uses } : await taskFacts(deps, executionId, taskId).catch(() => null);
    const pkg = facts?.uses ?? 'unknown';
    const span = tracer().startSpan(
      `task ${taskId}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'mc.execution.id': executionId,
          'mc.task.id': taskId,
          'mc.task.package': pkg,
          'mc.task.attempt': job.attemptsMade + 1,
          'messaging.destination.name': job.queueName,
          ...(facts ? { 'mc.workflow.id': facts.workflowId } : {}),
        },
      },
      contextFromTraceparent(traceparent),
    );
    const keys = { ...traceLogKeys(span), ...(facts ? { 'workflow.id': facts.workflowId } : {}), 'exec.id': executionId, 'task.id': taskId, package: pkg };
    return context.with(trace.setSpan(context.active(), span), async () => {
      const started = performance.now();
      deps.logger.info({ ...keys, attempt: job.attemptsMade + 1, queue: job.queueName }, 'task started');
      let outcome = 'succeeded';
      try {
        const result = await processor(job, token);
        if (result && typeof result === 'object' && 'skipped' in result) outcome = 'skipped';
        return result;
      } catch (e) {
        if (e instanceof DelayedError) outcome = 'delayed';
        else {
          outcome = e instanceof UnrecoverableError ? 'failed' : 'retrying';
          span.recordException(e instanceof Error ? e : String(e));
          span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
        }
        throw e;
      } finally {
        const seconds = (performance.now() - started) / 1000;
        span.setAttribute('mc.task.outcome', outcome);
        span.end();
        taskDurationSeconds.observe({ package: pkg, outcome }, seconds);
        const line = { ...keys, outcome, duration_ms: Math.round(seconds * 1e6) / 1e3 };
        if (outcome === 'failed' || outcome === 'retrying') deps.logger.warn(line, 'task finished');
        else deps.logger.info(line, 'task finished');
      }
    });
  };
}
