import { createApiClient, type ApiClient } from './api-client.ts';
import { CliError, exitCodes, toCliError } from './cli-errors.ts';
import { helpText, parseCommandLine } from './command-line.ts';
import { auditVerifyCommand } from './commands/audit.ts';
import { executeCommand, executionsGetCommand, executionsListCommand, executionsLogsCommand, planCommand } from './commands/executions.ts';
import {
  executionsApproveCommand,
  executionsCancelCommand,
  executionsPauseCommand,
  executionsRejectCommand,
  executionsRerunCommand,
  executionsResumeCommand,
  executionsSignalCommand,
  executionsTransitionsCommand,
} from './commands/execution-control.ts';
import { loginCommand } from './commands/login.ts';
import { scheduleCreateCommand, scheduleDeleteCommand, scheduleGetCommand, scheduleListCommand, schedulePauseCommand, scheduleResumeCommand } from './commands/schedules.ts';
import { migrateCommand } from './commands/migrate.ts';
import { discloseCommand, keysCommand, receiptGetCommand, receiptVerifyCommand } from './commands/receipts.ts';
import { tokensCreateCommand, tokensListCommand, tokensRevokeCommand } from './commands/tokens.ts';
import { verifyCommand } from './commands/verify.ts';
import { workflowCreateCommand, workflowGetCommand, workflowListCommand, workflowPublishCommand } from './commands/workflows.ts';
import { loadConfig, resolveTarget, type CliConfig, type Target } from './config-store.ts';
import { stringValue, type Command, type Context } from './context.ts';
import { Output, type OutputStreams } from './output.ts';

export const cliVersion = '0.1.0';

/** Every command `mc` knows, in the order `mc --help` lists them. */
export const commands: Command[] = [
  loginCommand,
  workflowCreateCommand,
  workflowPublishCommand,
  workflowListCommand,
  workflowGetCommand,
  planCommand,
  executeCommand,
  executionsListCommand,
  executionsGetCommand,
  executionsLogsCommand,
  executionsCancelCommand,
  executionsPauseCommand,
  executionsResumeCommand,
  executionsSignalCommand,
  executionsApproveCommand,
  executionsRejectCommand,
  executionsRerunCommand,
  executionsTransitionsCommand,
  scheduleCreateCommand,
  scheduleListCommand,
  scheduleGetCommand,
  schedulePauseCommand,
  scheduleResumeCommand,
  scheduleDeleteCommand,
  receiptGetCommand,
  receiptVerifyCommand,
  discloseCommand,
  verifyCommand,
  auditVerifyCommand,
  keysCommand,
  tokensCreateCommand,
  tokensListCommand,
  tokensRevokeCommand,
  migrateCommand,
];

/**
 * Runs one `mc` invocation and returns its exit code. Never throws and never prints a stack
 * trace (unless MC_DEBUG=1): every failure becomes a message, what to do next, and an exit code.
 */
export async function runCli(argv: readonly string[], io: OutputStreams, env: Record<string, string | undefined>, cwd = process.cwd()): Promise<number> {
  const json = argv.includes('--json');
  let out = new Output(io, { json, env });
  const debug = env.MC_DEBUG === '1' || env.MC_DEBUG === 'true';
  let server = 'the server';
  try {
    const parsed = parseCommandLine(argv, commands);
    if (parsed.kind === 'version') {
      out.line(`mc ${cliVersion}`);
      return exitCodes.ok;
    }
    if (parsed.kind === 'help') {
      out.line(helpText(commands, parsed.spec, parsed.group));
      return exitCodes.ok;
    }
    const { values } = parsed.parsed;
    out = new Output(io, { json: values.json === true, env });
    const globals = { json: values.json === true, ...(stringValue(values.server) ? { server: stringValue(values.server)! } : {}), ...(stringValue(values.profile) ? { profile: stringValue(values.profile)! } : {}) };
    let config: CliConfig | undefined;
    let target: Target | undefined;
    let api: ApiClient | undefined;
    const ctx: Context = {
      out,
      env,
      cwd,
      globals,
      config: async () => (config ??= await loadConfig(env)),
      target: async () => {
        target ??= resolveTarget(await ctx.config(), globals, env);
        server = target.server;
        return target;
      },
      api: async () => (api ??= createApiClient(await ctx.target(), env)),
    };
    return await parsed.spec.run(ctx, parsed.parsed);
  } catch (e) {
    const err = e instanceof CliError ? e : toCliError(e, server);
    out.error(err, debug);
    if (debug && !(e instanceof CliError) && e instanceof Error && e !== err) io.stderr.write(`${e.stack ?? ''}\n`);
    return err.exitCode;
  }
}
