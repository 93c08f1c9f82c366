/**
 * The daemons' logs (pino): one JSON object per line on stderr with time, level, component, node
 * and, when a message is about one, network and task — or, with `--log-format pretty`, one
 * readable line for a terminal. The daemons log plain sentences through `Log` and never a secret;
 * the network and task fields are read from the sentence's own subject (`network "x": …`,
 * `network x: …`, `task ID …`), which is how every daemon message about one begins.
 */
import { Writable } from 'node:stream';
import pino from 'pino';

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

export function createLog(options: LogOptions): Log {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString();
      write(options.format === 'pretty' ? text.split('\n').filter(Boolean).map(prettyLine).join('') : text);
      done();
    },
  });
  const logger = pino(
    {
      level: options.level,
      base: { component: options.component, ...(options.node ? { node: options.node } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return (message, level) => {
    const chosen = level ?? (FAILURE.test(message) ? 'error' : 'info');
    logger[chosen](subjectOf(message), message);
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
