/**
 * The tool run in-process through main() (the code the binary runs, without a process start per
 * call), its output captured. A test gives the run its own environment (`env`) rather than setting
 * process.env: the tests of a file run at once, each with its own admin key.
 */
import type { CliIo } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';

export interface ToolRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ToolRunOptions {
  /** What the tool reads on stdin ('' when absent). */
  readonly stdin?: string;
  /** The environment the tool reads ($ZMESH_ADMIN_KEY, $ZMESH_STORE); process.env when absent. */
  readonly env?: CliIo['env'];
}

export async function zmeshInProcess(args: readonly string[], options: ToolRunOptions = {}): Promise<ToolRun> {
  let stdout = '';
  let stderr = '';
  const stdin = options.stdin ?? '';
  const status = await main(args, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    readStdin: async () => stdin,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  return { status, stdout, stderr };
}
