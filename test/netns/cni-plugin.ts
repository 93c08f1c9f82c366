/**
 * Runs zmesh-cni the way a runtime does (the spec's contract): a fresh process per verb, the
 * CNI_* variables in its environment, the network configuration on stdin, one JSON document (or
 * nothing) on stdout and the exit code.
 */
import { execa } from 'execa';
import { defaultCniInvocation, type ZmeshInvocation } from '../../src/sim/zmesh-command.js';

export interface PluginRun {
  readonly exitCode: number;
  readonly stdout: string;
  /** stdout parsed (null when empty). */
  readonly out: any;
  readonly stderr: string;
}

export interface CniCall {
  readonly command: string;
  readonly containerId?: string;
  readonly netns?: string;
  readonly ifname?: string;
  readonly args?: string;
}

export function conflistEntry(network: string, socket: string, cniVersion = '1.0.0', extra: object = {}): object {
  return { cniVersion, name: `zm-${network}`.slice(0, 63), type: 'zmesh-cni', network, socket, ...extra };
}

export async function runPlugin(
  call: CniCall,
  config: object | string,
  invocation: ZmeshInvocation = defaultCniInvocation(),
): Promise<PluginRun> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: call.command,
    CNI_PATH: '/usr/lib/cni',
  };
  if (call.containerId !== undefined) env.CNI_CONTAINERID = call.containerId;
  if (call.netns !== undefined) env.CNI_NETNS = call.netns;
  if (call.ifname !== undefined) env.CNI_IFNAME = call.ifname;
  if (call.args !== undefined) env.CNI_ARGS = call.args;
  const input = typeof config === 'string' ? config : JSON.stringify(config);
  const result = await execa(invocation.file, [...invocation.leadingArgs], {
    env,
    extendEnv: false,
    input,
    reject: false,
    timeout: 90_000,
  });
  const stdout = String(result.stdout);
  return {
    exitCode: result.exitCode ?? -1,
    stdout,
    out: stdout.trim() === '' ? null : JSON.parse(stdout),
    stderr: String(result.stderr),
  };
}
