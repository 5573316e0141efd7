import type { CliError } from './cli-errors.ts';

/**
 * Everything the CLI prints goes through here: human text with colours (off under NO_COLOR,
 * for a non-TTY, or with --json), tables, a progress line while waiting, and JSON for scripts.
 */

export interface OutputStreams {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1, dim: 2 } as const;
type Colour = keyof typeof codes;

export class Output {
  readonly json: boolean;
  private readonly colour: boolean;
  private readonly stderrTty: boolean;
  private progressShown = false;

  constructor(
    private readonly io: OutputStreams,
    opts: { json: boolean; env: Record<string, string | undefined> },
  ) {
    this.json = opts.json;
    const noColor = opts.env.NO_COLOR !== undefined && opts.env.NO_COLOR !== '';
    const force = opts.env.FORCE_COLOR !== undefined && opts.env.FORCE_COLOR !== '' && opts.env.FORCE_COLOR !== '0';
    this.colour = !opts.json && !noColor && (force || io.stdout.isTTY === true);
    this.stderrTty = io.stderr.isTTY === true;
  }

  paint(colour: Colour, text: string): string {
    return this.colour ? `\x1b[${codes[colour]}m${text}\x1b[0m` : text;
  }

  /** Status words in their colour: succeeded green, failed red, running yellow… */
  status(s: string): string {
    const colour: Colour = /succeeded|published|ok|verified|allow/.test(s) ? 'green' : /fail|denied|rolled_back|deny|broken/.test(s) ? 'red' : /running|pending|queued|draft/.test(s) ? 'yellow' : 'gray';
    return this.paint(colour, s);
  }

  line(text = ''): void {
    this.clearProgress();
    this.io.stdout.write(`${text}\n`);
  }

  /** A note for people (stderr, so stdout stays clean for pipes); silent with --json. */
  note(text: string): void {
    if (this.json) return;
    this.clearProgress();
    this.io.stderr.write(`${text}\n`);
  }

  success(text: string): void {
    this.line(`${this.paint('green', '✔')} ${text}`);
  }

  emitJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A result: JSON as-is with --json, otherwise the human rendering. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.emitJson(value);
    else human();
  }

  table(rows: Record<string, unknown>[], columns: { key: string; title: string; render?: (v: unknown, row: Record<string, unknown>) => string }[]): void {
    if (rows.length === 0) {
      this.line(this.paint('gray', '(none)'));
      return;
    }
    const cells = rows.map((r) => columns.map((c) => (c.render ? c.render(r[c.key], r) : formatCell(r[c.key]))));
    // Width from the text without colour codes.
    const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
    const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((row) => plain(row[i]!).length)));
    this.line(columns.map((c, i) => this.paint('bold', c.title.padEnd(widths[i]!))).join('  ').trimEnd());
    for (const row of cells) this.line(row.map((cell, i) => cell + ' '.repeat(Math.max(0, widths[i]! - plain(cell).length))).join('  ').trimEnd());
  }

  /** One line rewritten in place on a TTY; only changes, one per line, otherwise; nothing with --json. */
  progress(text: string): void {
    if (this.json) return;
    if (this.stderrTty) {
      this.io.stderr.write(`\r\x1b[2K${text}`);
      this.progressShown = true;
    } else {
      this.io.stderr.write(`${text}\n`);
    }
  }

  clearProgress(): void {
    if (this.progressShown) {
      this.io.stderr.write('\r\x1b[2K');
      this.progressShown = false;
    }
  }

  error(e: CliError, debug: boolean): void {
    this.clearProgress();
    if (this.json) {
      this.emitJson({ ok: false, exitCode: e.exitCode, error: { code: e.opts.code ?? 'ERROR', message: e.message, issues: e.opts.issues ?? [], details: e.opts.details ?? {}, hint: e.opts.hint ?? null } });
      return;
    }
    const out: string[] = [`${this.paint('red', 'error:')} ${e.message}`];
    for (const issue of e.opts.issues ?? []) out.push(`  ${this.paint('yellow', issue.path || '(root)')}: ${issue.message}`);
    const reasons = (e.opts.details?.reasons ?? null) as unknown;
    if (Array.isArray(reasons)) for (const r of reasons) out.push(`  - ${String(r)}`);
    if (e.opts.hint) out.push(`${this.paint('cyan', 'hint:')} ${e.opts.hint}`);
    if (debug && e.stack) out.push(this.paint('gray', e.stack));
    this.io.stderr.write(`${out.join('\n')}\n`);
  }
}

export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (v instanceof Date) return v.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export const spinnerFrames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
