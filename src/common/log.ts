/**
 * The daemons' logs: one JSON object per line on stderr with time, level, component, node and,
 * when a message is about one, network and task — or, with `--log-format pretty`, one readable
 * line for a terminal. The daemons log plain sentences through `Log` and never a secret; the
 * network and task fields are read from the sentence's own subject (`network "x": …`,
 * `network x: …`, `task ID …`), which is how every daemon message about one begins.
 *
 * The lines are pino's (level label, ISO time, the bindings, the subject, msg, in that order),
 * written here with JSON.stringify: every record is a sentence and a few fixed fields, written
 * synchronously, which is all the daemons used pino for, and loading pino and its dependencies
 * cost each daemon ~6 MB of RSS (wgd's budget is 80 MB with 100 devices).
 */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What daemons call: a sentence, at info unless told. */
export type Log = (message: string, level?: LogLevel) => void;

export interface LogOptions {
  readonly component: string;
  readonly node?: string;
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Where lines go (default stderr). */
  readonly write?: (line: string) => void;
}

const NETWORK = /^(?:reconcile: )?network "?([a-z0-9][a-z0-9-]{0,62})"?:/;
const TASK = /\btask ([A-Za-z0-9][A-Za-z0-9._:-]{0,127})\b/;
/** A sentence that says something failed is logged as an error even when its caller did not say. */
const FAILURE = /\b(failed|cannot|refused|fatal)\b/;

/** The subject fields of a sentence. */
export function subjectOf(message: string): { network?: string; task?: string } {
  const network = NETWORK.exec(message)?.[1];
  const task = TASK.exec(message)?.[1];
  return { ...(network ? { network } : {}), ...(task ? { task } : {}) };
}

function prettyLine(json: string): string {
  const record = JSON.parse(json) as {
    time: string;
    level: string;
    component: string;
    network?: string;
    task?: string;
    msg: string;
  };
  const subject = [record.network ? `network=${record.network}` : '', record.task ? `task=${record.task}` : '']
    .filter(Boolean)
    .join(' ');
  return `${record.time.slice(11, 23)} ${record.level.toUpperCase().padEnd(5)} ${record.component}${subject ? ` [${subject}]` : ''}: ${record.msg}\n`;
}

/** pino's numbers for the levels: a record is written when its level is at least the threshold's. */
const LEVEL_VALUES: Readonly<Record<LogLevel, number>> = { debug: 20, info: 30, warn: 40, error: 50 };

export function createLog(options: LogOptions): Log {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const threshold = LEVEL_VALUES[options.level];
  const bindings = { component: options.component, ...(options.node ? { node: options.node } : {}) };
  return (message, level) => {
    const chosen = level ?? (FAILURE.test(message) ? 'error' : 'info');
    if (LEVEL_VALUES[chosen] < threshold) return;
    const line = `${JSON.stringify({ level: chosen, time: new Date().toISOString(), ...bindings, ...subjectOf(message), msg: message })}\n`;
    write(options.format === 'pretty' ? prettyLine(line) : line);
  };
}

/**
 * The sentences of a daemon's log text: each JSON line's `msg`, other lines as they are — for
 * readers (tests, the sim) that look for a sentence such as `network "x": revision 6 queued`,
 * which a JSON line holds with its quotes escaped.
 */
export function logMessages(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (!line.startsWith('{')) return line;
      try {
        const msg = (JSON.parse(line) as { msg?: unknown }).msg;
        return typeof msg === 'string' ? msg : line;
      } catch {
        return line;
      }
    })
    .join('\n');
}
