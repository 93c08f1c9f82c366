/**
 * The edge of zmesh-cni: the runtime's environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
 * CNI_IFNAME, CNI_ARGS) and the network configuration on stdin become one typed Invocation, or a
 * spec error naming the variable or field (code 4 for the environment, 6 for what is not JSON,
 * 7 for a configuration that is JSON but wrong, 1 for a version not spoken). Pure.
 *
 * zmesh-cni's configuration (one entry of a .conflist's `plugins`):
 *   { "type": "zmesh-cni", "network": "<zmesh network>", "socket": "<networkd socket>", "dns": {...}? }
 * A static address comes from `runtimeConfig.ips` (the `ips` capability), the conflist's
 * `args.cni.ips`, or the `IP=` key of CNI_ARGS, in that order of precedence.
 */
import {
  CniErrorCode,
  type CniError,
  type CniVersion,
  type DnsConfig,
  cniError,
  isSupportedVersion,
  versionAllows,
} from './spec.js';
import { CONTAINER_ID, isIfname } from '../networkd/workload-owner.js';

export const DEFAULT_SOCKET = '/var/lib/zmesh/networkd.sock';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type Command = (typeof COMMANDS)[number];

export interface PluginConfig {
  readonly cniVersion: CniVersion;
  /** The CNI network's name (the conflist's `name`). */
  readonly name: string;
  /** The zmesh network the workloads join. */
  readonly network: string;
  /** networkd's API socket. */
  readonly socket: string;
  readonly dns: DnsConfig | null;
  /** The static address asked for, a dotted quad (null: networkd picks the lowest free one). */
  readonly ip: string | null;
  readonly prevResult: unknown;
}

/** A container's interface as the runtime names it. */
export interface AttachmentKey {
  readonly containerId: string;
  readonly ifname: string;
}

export type Invocation =
  | { readonly command: 'VERSION'; readonly cniVersion: string | null }
  | {
      readonly command: 'ADD' | 'CHECK';
      readonly config: PluginConfig;
      readonly key: AttachmentKey;
      readonly netns: string;
    }
  | {
      readonly command: 'DEL';
      readonly config: PluginConfig;
      readonly key: AttachmentKey;
      readonly netns: string | null;
    }
  | { readonly command: 'STATUS'; readonly config: PluginConfig }
  | { readonly command: 'GC'; readonly config: PluginConfig; readonly keep: readonly AttachmentKey[] };

export type Parsed =
  | { readonly ok: true; readonly invocation: Invocation }
  | { readonly ok: false; readonly error: CniError; readonly cniVersion: string };

/**
 * netdef's NETWORK_NAME_PATTERN, written out: netdef's modules load TypeBox, ~10 ms the plugin
 * would pay on every start (test/unit/cni/invocation.test.ts holds the two equal).
 */
export const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** CNI_ARGS keys runtimes send that mean nothing here (podman and Kubernetes). */
const IGNORED_ARGS = new Set([
  'IgnoreUnknown',
  'K8S_POD_NAMESPACE',
  'K8S_POD_NAME',
  'K8S_POD_INFRA_CONTAINER_ID',
  'K8S_POD_UID',
]);

type Env = Readonly<Record<string, string | undefined>>;

class Refusal {
  constructor(readonly error: CniError) {}
}

function refuse(code: CniErrorCode, msg: string, details?: string): never {
  throw new Refusal(cniError(code, msg, details));
}

function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > 64 ? `${clean.slice(0, 64)}…` : clean);
}

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '')
    refuse(CniErrorCode.INVALID_ENVIRONMENT, `${name} is not set`, `${name} is required for ${env.CNI_COMMAND}`);
  return value;
}

function containerIdOf(env: Env): string {
  const id = required(env, 'CNI_CONTAINERID');
  if (!CONTAINER_ID.test(id))
    refuse(
      CniErrorCode.INVALID_ENVIRONMENT,
      `CNI_CONTAINERID ${shown(id)} has characters other than alphanumerics, "_", ".", "-"`,
    );
  return id;
}

function ifnameOf(env: Env): string {
  const ifname = required(env, 'CNI_IFNAME');
  if (!isIfname(ifname)) {
    refuse(
      CniErrorCode.INVALID_ENVIRONMENT,
      `CNI_IFNAME ${shown(ifname)} is not an interface name (1-15 of A-Z, a-z, 0-9, "_", ".", "+", "-")`,
    );
  }
  return ifname;
}

function netnsOf(env: Env, optional: boolean): string | null {
  const netns = env.CNI_NETNS;
  if (optional && (netns === undefined || netns === '')) return null;
  const path = required(env, 'CNI_NETNS');
  if (
    !path.startsWith('/') ||
    path.includes('\0') ||
    path.split('/').some((c, i) => i > 0 && (c === '' || c === '.' || c === '..'))
  ) {
    refuse(
      CniErrorCode.INVALID_ENVIRONMENT,
      `CNI_NETNS ${shown(path)} is not a normalised absolute path of a network namespace`,
    );
  }
  return path;
}

/** CNI_ARGS: `KEY=VALUE;KEY=VALUE`. Unknown keys are refused unless IgnoreUnknown is true. */
function parseArgs(text: string | undefined): Map<string, string> {
  const args = new Map<string, string>();
  if (text === undefined || text === '') return args;
  for (const pair of text.split(';')) {
    const at = pair.indexOf('=');
    if (at <= 0) refuse(CniErrorCode.INVALID_ENVIRONMENT, `CNI_ARGS: ${shown(pair)} is not KEY=VALUE`);
    args.set(pair.slice(0, at), pair.slice(at + 1));
  }
  const ignoreUnknown = ['1', 'true'].includes((args.get('IgnoreUnknown') ?? '').toLowerCase());
  for (const key of args.keys()) {
    if (key !== 'IP' && !IGNORED_ARGS.has(key) && !ignoreUnknown) {
      refuse(
        CniErrorCode.INVALID_ENVIRONMENT,
        `CNI_ARGS: unknown key ${shown(key)} (known: IP; set IgnoreUnknown=1 to pass others)`,
      );
    }
  }
  return args;
}

function decode(stdin: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(stdin);
  } catch (error) {
    refuse(
      CniErrorCode.UNDECODABLE_CONTENT,
      'the network configuration on stdin is not JSON',
      (error as Error).message,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    refuse(CniErrorCode.UNDECODABLE_CONTENT, 'the network configuration on stdin is not a JSON object');
  return value as Record<string, unknown>;
}

function versionOf(config: Record<string, unknown>): CniVersion {
  const version = config.cniVersion;
  if (typeof version !== 'string') refuse(CniErrorCode.INVALID_NETWORK_CONFIG, 'cniVersion: missing or not a string');
  if (!isSupportedVersion(version))
    refuse(
      CniErrorCode.INCOMPATIBLE_VERSION,
      `cniVersion ${shown(version)} is not supported`,
      'supported: 0.3.1, 0.4.0, 1.0.0, 1.1.0',
    );
  return version;
}

function stringField(config: Record<string, unknown>, field: string, pattern: RegExp, what: string): string {
  const value = config[field];
  if (typeof value !== 'string')
    refuse(
      CniErrorCode.INVALID_NETWORK_CONFIG,
      `${field}: ${value === undefined ? 'missing' : 'must be a string'} (${what})`,
    );
  if (!pattern.test(value)) refuse(CniErrorCode.INVALID_NETWORK_CONFIG, `${field}: ${shown(value)} is not ${what}`);
  return value;
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    refuse(CniErrorCode.INVALID_NETWORK_CONFIG, `${field}: must be an array of strings`);
  return value as string[];
}

function dnsOf(value: unknown): DnsConfig | null {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    refuse(CniErrorCode.INVALID_NETWORK_CONFIG, 'dns: must be an object');
  const dns = value as Record<string, unknown>;
  if (dns.domain !== undefined && typeof dns.domain !== 'string')
    refuse(CniErrorCode.INVALID_NETWORK_CONFIG, 'dns.domain: must be a string');
  const nameservers = stringList(dns.nameservers, 'dns.nameservers');
  const search = stringList(dns.search, 'dns.search');
  const options = stringList(dns.options, 'dns.options');
  return {
    ...(nameservers ? { nameservers } : {}),
    ...(typeof dns.domain === 'string' ? { domain: dns.domain } : {}),
    ...(search ? { search } : {}),
    ...(options ? { options } : {}),
  };
}

/** One static IPv4 address: "a.b.c.d" or "a.b.c.d/len"; the subnet itself is networkd's to check. */
function staticAddress(value: unknown, source: string): string {
  if (typeof value !== 'string') refuse(CniErrorCode.INVALID_NETWORK_CONFIG, `${source}: must be an address string`);
  const [address, prefix, ...rest] = value.split('/');
  if (
    address === undefined ||
    !IPV4.test(address) ||
    rest.length > 0 ||
    (prefix !== undefined && !/^(3[0-2]|[12]?\d)$/.test(prefix))
  ) {
    refuse(
      CniErrorCode.INVALID_NETWORK_CONFIG,
      `${source}: ${shown(value)} is not an IPv4 address (a.b.c.d or a.b.c.d/len)`,
    );
  }
  return address;
}

function staticList(value: unknown, source: string): string | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) refuse(CniErrorCode.INVALID_NETWORK_CONFIG, `${source}: must be an array of addresses`);
  if (value.length === 0) return null;
  if (value.length > 1)
    refuse(CniErrorCode.INVALID_NETWORK_CONFIG, `${source}: one IPv4 address per interface (${value.length} given)`);
  return staticAddress(value[0], `${source}[0]`);
}

function objectField(config: Record<string, unknown>, field: string): Record<string, unknown> {
  const value = config[field];
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    refuse(CniErrorCode.INVALID_NETWORK_CONFIG, `${field}: must be an object`);
  return value as Record<string, unknown>;
}

function pluginConfig(config: Record<string, unknown>, cniArgs: Map<string, string>): PluginConfig {
  const cniVersion = versionOf(config);
  const name = stringField(config, 'name', NETWORK_NAME, 'a CNI network name');
  if (config.type !== undefined && typeof config.type !== 'string')
    refuse(CniErrorCode.INVALID_NETWORK_CONFIG, 'type: must be a string');
  const network = stringField(
    config,
    'network',
    NETWORK_NAME,
    'a zmesh network name (1-63 of A-Z, a-z, 0-9, ".", "_", "-")',
  );
  const socket =
    config.socket === undefined ? DEFAULT_SOCKET : stringField(config, 'socket', /^\/[^\0]+$/, 'an absolute path');
  const runtimeIps = staticList(objectField(config, 'runtimeConfig').ips, 'runtimeConfig.ips');
  const argsIps = staticList(objectField(objectField(config, 'args'), 'cni').ips, 'args.cni.ips');
  const envIp = cniArgs.has('IP') ? staticAddress(cniArgs.get('IP'), 'CNI_ARGS IP') : null;
  return {
    cniVersion,
    name,
    network,
    socket,
    dns: dnsOf(config.dns),
    ip: runtimeIps ?? argsIps ?? envIp,
    prevResult: config.prevResult ?? null,
  };
}

/** GC's attachments to keep: `cni.dev/valid-attachments`, or `cni.dev/attachments` (the spec's older name). */
function attachmentsToKeep(config: Record<string, unknown>): AttachmentKey[] {
  const field = config['cni.dev/valid-attachments'] !== undefined ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  const value = config[field];
  if (value === undefined) return [];
  if (!Array.isArray(value)) refuse(CniErrorCode.INVALID_NETWORK_CONFIG, `${field}: must be an array`);
  return value.map((entry, index) => {
    const e = entry as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || typeof e.containerID !== 'string' || typeof e.ifname !== 'string') {
      refuse(
        CniErrorCode.INVALID_NETWORK_CONFIG,
        `${field}[${index}]: must be {"containerID": string, "ifname": string}`,
      );
    }
    return { containerId: e.containerID as string, ifname: e.ifname as string };
  });
}

/** The version to write an error in: the config's when it names a supported one, else the newest. */
function errorVersion(stdin: string): string {
  try {
    const version = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof version === 'string' && isSupportedVersion(version) ? version : '1.1.0';
  } catch {
    return '1.1.0';
  }
}

function parse(env: Env, stdin: string): Invocation {
  const command = env.CNI_COMMAND;
  if (command === undefined || command === '') refuse(CniErrorCode.INVALID_ENVIRONMENT, 'CNI_COMMAND is not set');
  if (!(COMMANDS as readonly string[]).includes(command))
    refuse(CniErrorCode.INVALID_ENVIRONMENT, `CNI_COMMAND ${shown(command)} is not one of ${COMMANDS.join(', ')}`);
  if (command === 'VERSION') {
    // VERSION needs no configuration: stdin may be empty or carry only cniVersion.
    let cniVersion: string | null = null;
    if (stdin.trim() !== '') {
      const version = decode(stdin).cniVersion;
      if (typeof version === 'string') cniVersion = version;
    }
    return { command: 'VERSION', cniVersion };
  }
  const raw = decode(stdin);
  // The environment is checked before the configuration's meaning, as the variables are the
  // runtime's contract and a missing one is the runtime's bug whatever the configuration says.
  const key =
    command === 'ADD' || command === 'CHECK' || command === 'DEL'
      ? { containerId: containerIdOf(env), ifname: ifnameOf(env) }
      : null;
  const netns =
    command === 'ADD' || command === 'CHECK' ? netnsOf(env, false) : command === 'DEL' ? netnsOf(env, true) : null;
  const config = pluginConfig(raw, key === null ? new Map() : parseArgs(env.CNI_ARGS));
  if ((command === 'CHECK' || command === 'GC' || command === 'STATUS') && !versionAllows(config.cniVersion, command)) {
    refuse(
      CniErrorCode.INCOMPATIBLE_VERSION,
      `${command} is not part of CNI ${config.cniVersion}`,
      `config cniVersion ${config.cniVersion}`,
    );
  }
  switch (command) {
    case 'ADD':
    case 'CHECK':
      return { command, config, key: key!, netns: netns! };
    case 'DEL':
      return { command, config, key: key!, netns };
    case 'STATUS':
      return { command, config };
    default:
      return { command: 'GC', config, keep: attachmentsToKeep(raw) };
  }
}

export function parseInvocation(env: Env, stdin: string): Parsed {
  try {
    return { ok: true, invocation: parse(env, stdin) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, error: error.error, cniVersion: errorVersion(stdin) };
    throw error;
  }
}
