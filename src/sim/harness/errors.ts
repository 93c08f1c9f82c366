// Typed errors of the netns harness. Every failure the harness reports is a
// HarnessError with a stable `code` and the context a reader needs to see what
// was attempted (command, namespace, timeout). Command arguments can be hidden
// (`redactArgs`) when a caller passes something secret; stdin is never shown.

export type HarnessErrorCode =
  | 'INVALID_ARGUMENT' // a name, prefix, address or option the harness refuses
  | 'COMMAND_FAILED' // a command exited non-zero (or by a signal)
  | 'COMMAND_TIMEOUT' // a command ran past its deadline and was killed
  | 'SPAWN_FAILED' // a process could not be started at all
  | 'PROCESS_EXITED' // a background process ended while we waited for its output
  | 'TIMEOUT' // waitFor / waitForOutput gave up
  | 'PREFIX_IN_USE' // another live run owns the requested prefix
  | 'WORLD_CLOSED' // the world was torn down; nothing more may be created in it
  | 'TEARDOWN_FAILED'; // one or more teardown steps failed (all were attempted)

export class HarnessError extends Error {
  readonly code: HarnessErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: HarnessErrorCode, message: string, context: Record<string, unknown> = {}) {
    super(message);
    this.name = 'HarnessError';
    this.code = code;
    this.context = context;
  }
}

/** Keeps the end of a long output, which is where the reason usually is. */
export function tail(text: string, max = 2000): string {
  const trimmed = text.trimEnd();
  return trimmed.length <= max ? trimmed : '…' + trimmed.slice(trimmed.length - max);
}
