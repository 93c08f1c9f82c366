/**
 * zmesh-cni's command dispatch as a pure core, in the shape of src/wg/protocol.ts: given the
 * parsed invocation it returns a Step — either a Call for the I/O layer (run.ts) to make, with the
 * function that takes its Answer and returns the next Step, or Done: the exit code and the one
 * JSON document (or nothing) for stdout. Nothing here reads the clock, a file or a socket, so
 * every verb and every answer networkd could give is tested by feeding Answers (test/unit/cni).
 *
 * The verbs, as calls:
 *   ADD     attach (owner cni, workload = hash of container id + ifname); networkd answers the MAC too
 *   DEL     detach; 404 is success (nothing left); networkd unreachable or 503 → spool-release
 *   CHECK   get-network (networkd's record vs prevResult) → read-interface (the namespace)
 *   STATUS  get-network: 50 not available, 51 degraded (peers, none with a handshake), 0 ok
 *   GC      gc with the ids of the attachments to keep; every release's error is collected
 *   VERSION no call
 */
import { createHash } from 'node:crypto';
import { apiErrorOf } from '../http/client.js';
import type { AttachmentKey, Invocation, PluginConfig } from './invocation.js';
import {
  type Attachment,
  type CniError,
  CniErrorCode,
  CURRENT_VERSION,
  SUPPORTED_VERSIONS,
  cniError,
  isSupportedVersion,
  resultDocument,
} from './spec.js';

/** The body of networkd's POST /v1/networks/{name}/workloads for a CNI attachment. */
export interface AttachBody {
  readonly workload: string;
  readonly netns: string;
  readonly ifname: string;
  readonly ip?: string;
  readonly owner: 'cni';
  readonly containerId: string;
}

export type Call =
  | { readonly kind: 'attach'; readonly socket: string; readonly network: string; readonly body: AttachBody }
  | { readonly kind: 'detach'; readonly socket: string; readonly network: string; readonly workload: string }
  | { readonly kind: 'get-network'; readonly socket: string; readonly network: string }
  | { readonly kind: 'gc'; readonly socket: string; readonly network: string; readonly keep: readonly string[] }
  | { readonly kind: 'read-interface'; readonly netns: string; readonly ifname: string }
  | { readonly kind: 'spool-release'; readonly socket: string; readonly network: string; readonly workload: string };

/** An interface as the workload's namespace holds it. */
export interface InterfaceState {
  readonly mac: string | null;
  readonly mtu: number;
  /** IPv4 addresses with prefix length, a.b.c.d/len. */
  readonly addresses: readonly string[];
}

export type Answer =
  /** networkd answered (any status). */
  | { readonly kind: 'http'; readonly status: number; readonly body: unknown }
  /** networkd did not answer: no socket, refused, reset, or past the deadline. */
  | { readonly kind: 'unreachable'; readonly message: string }
  /** read-interface: the interface (null: no such interface), or why it could not be read. */
  | { readonly kind: 'interface'; readonly state: InterfaceState | null; readonly error?: string }
  | { readonly kind: 'spool'; readonly outcome: 'spooled' | 'full' | 'failed'; readonly message?: string };

export type Step =
  | { readonly kind: 'call'; readonly call: Call; readonly next: (answer: Answer) => Step }
  | { readonly kind: 'done'; readonly exitCode: number; readonly stdout: string };

/** The workload id of a container's interface: what networkd keys the CNI attachment by. */
export function workloadIdOf(key: AttachmentKey): string {
  return `cni-${createHash('sha256').update(`${key.containerId}\0${key.ifname}`).digest('hex').slice(0, 32)}`;
}

function done(exitCode: number, document?: object): Step {
  return { kind: 'done', exitCode, stdout: document === undefined ? '' : `${JSON.stringify(document)}\n` };
}

const success = (document?: object): Step => done(0, document);

/** A spec error document and exit code 1 (the spec asks for non-zero; the code is in the document). */
export function failure(cniVersion: string, error: CniError): Step {
  return done(1, { cniVersion, ...error });
}

function call(c: Call, next: (answer: Answer) => Step): Step {
  return { kind: 'call', call: c, next };
}

/**
 * A networkd answer that is not a success, as a spec error: unreachable, 503 and 5xx are try
 * again later (11); an unknown network or a bad address is an invalid network configuration (7);
 * a namespace or interface name networkd refuses is the runtime's environment (4); the rest 100.
 */
function networkdFailure(config: PluginConfig, what: string, answer: Answer): CniError {
  if (answer.kind === 'unreachable')
    return cniError(
      CniErrorCode.TRY_AGAIN_LATER,
      `${what}: networkd is not answering at ${config.socket}`,
      answer.message,
    );
  if (answer.kind !== 'http') return cniError(CniErrorCode.BAD_ANSWER, `${what}: unexpected ${answer.kind} answer`);
  const error = apiErrorOf(answer.body);
  const message = error?.message ?? `HTTP ${answer.status}`;
  if (answer.status === 503 || answer.status >= 500)
    return cniError(CniErrorCode.TRY_AGAIN_LATER, `${what}: networkd could not do it now: ${message}`);
  if (answer.status === 404 && error?.code === 'ENOENT')
    return cniError(CniErrorCode.INVALID_NETWORK_CONFIG, `network: ${message}`);
  if (error?.field === 'ip')
    return cniError(CniErrorCode.INVALID_NETWORK_CONFIG, `static IP refused by networkd: ${message}`);
  if (error?.field === 'netns')
    return cniError(CniErrorCode.INVALID_ENVIRONMENT, `CNI_NETNS refused by networkd: ${message}`);
  if (error?.field === 'ifname')
    return cniError(CniErrorCode.INVALID_ENVIRONMENT, `CNI_IFNAME refused by networkd: ${message}`);
  if (answer.status === 409 && error?.field === 'workload')
    return cniError(CniErrorCode.ALREADY_ATTACHED, `${what}: ${message}`);
  return cniError(
    CniErrorCode.NETWORKD_REFUSED,
    `${what}: networkd refused (${answer.status} ${error?.code ?? ''}): ${message}`,
  );
}

interface AttachAnswer {
  readonly ip: string;
  readonly prefix: number;
  readonly gateway: string;
  readonly mtu: number;
  readonly routes: readonly { readonly destination: string; readonly via: string }[];
  readonly mac: string | null;
}

/** The fields of networkd's AttachResult (src/networkd/views.ts) the result needs, or null. */
function attachAnswer(body: unknown): AttachAnswer | null {
  const b = body as Partial<Record<keyof AttachAnswer, unknown>> | null;
  if (typeof b !== 'object' || b === null) return null;
  if (
    typeof b.ip !== 'string' ||
    typeof b.gateway !== 'string' ||
    typeof b.prefix !== 'number' ||
    typeof b.mtu !== 'number' ||
    !Array.isArray(b.routes)
  )
    return null;
  // Entries are what networkd sent: any JSON, null among it (the CNI fuzzing found one).
  const routes = (b.routes as ({ destination?: unknown; via?: unknown } | null)[]).filter(
    (r) => typeof r?.destination === 'string' && typeof r.via === 'string',
  );
  const mac = typeof b.mac === 'string' ? b.mac : null;
  return { ip: b.ip, prefix: b.prefix, gateway: b.gateway, mtu: b.mtu, routes: routes as AttachAnswer['routes'], mac };
}

function add(config: PluginConfig, key: AttachmentKey, netns: string): Step {
  const body: AttachBody = {
    workload: workloadIdOf(key),
    netns,
    ifname: key.ifname,
    ...(config.ip === null ? {} : { ip: config.ip }),
    owner: 'cni',
    containerId: key.containerId,
  };
  return call({ kind: 'attach', socket: config.socket, network: config.network, body }, (answer) => {
    if (answer.kind !== 'http' || answer.status !== 200)
      return failure(config.cniVersion, networkdFailure(config, `ADD to network ${config.network}`, answer));
    const attached = attachAnswer(answer.body);
    if (attached === null)
      return failure(
        config.cniVersion,
        cniError(CniErrorCode.BAD_ANSWER, 'ADD: networkd answered without ip, prefix, gateway, mtu and routes'),
      );
    const result: Attachment = { ifname: key.ifname, sandbox: netns, ...attached, dns: config.dns };
    return success(resultDocument(config.cniVersion, result));
  });
}

function del(config: PluginConfig, key: AttachmentKey): Step {
  const workload = workloadIdOf(key);
  return call({ kind: 'detach', socket: config.socket, network: config.network, workload }, (answer) => {
    // Nothing left to remove (already released, or the network is gone) is a successful DEL.
    if (answer.kind === 'http' && (answer.status === 200 || answer.status === 404)) return success();
    const later = answer.kind === 'unreachable' || (answer.kind === 'http' && answer.status === 503);
    if (!later)
      return failure(config.cniVersion, networkdFailure(config, `DEL from network ${config.network}`, answer));
    // networkd is down: the release is handed to its spool, drained when it is back.
    return call({ kind: 'spool-release', socket: config.socket, network: config.network, workload }, (spooled) => {
      if (spooled.kind === 'spool' && spooled.outcome === 'spooled') return success();
      const why =
        spooled.kind === 'spool' && spooled.outcome === 'full'
          ? 'its release spool is full'
          : `the release could not be spooled (${spooled.kind === 'spool' ? (spooled.message ?? '') : spooled.kind})`;
      return failure(
        config.cniVersion,
        cniError(
          CniErrorCode.TRY_AGAIN_LATER,
          `DEL from network ${config.network}: networkd is not answering and ${why}`,
        ),
      );
    });
  });
}

/** prevResult's address of the interface (a.b.c.d/len), or null when it has none. */
function previousAddress(prevResult: unknown, ifname: string): string | null {
  const prev = prevResult as {
    interfaces?: { name?: unknown }[];
    ips?: { address?: unknown; interface?: unknown }[];
  } | null;
  if (typeof prev !== 'object' || prev === null || !Array.isArray(prev.ips)) return null;
  const index = Array.isArray(prev.interfaces) ? prev.interfaces.findIndex((i) => i?.name === ifname) : -1;
  const ip = prev.ips.find(
    (entry) =>
      typeof entry?.address === 'string' && (index < 0 || entry.interface === undefined || entry.interface === index),
  );
  return typeof ip?.address === 'string' ? ip.address : null;
}

function check(config: PluginConfig, key: AttachmentKey, netns: string): Step {
  const workload = workloadIdOf(key);
  const expected = previousAddress(config.prevResult, key.ifname);
  if (expected === null)
    return failure(
      config.cniVersion,
      cniError(
        CniErrorCode.INVALID_NETWORK_CONFIG,
        `prevResult: CHECK needs the ADD's result with an address for ${key.ifname}`,
      ),
    );
  const mismatch = (msg: string) =>
    failure(config.cniVersion, cniError(CniErrorCode.CHECK_MISMATCH, `CHECK of ${key.ifname} in ${netns}: ${msg}`));
  return call({ kind: 'get-network', socket: config.socket, network: config.network }, (answer) => {
    if (answer.kind !== 'http' || answer.status !== 200)
      return failure(config.cniVersion, networkdFailure(config, `CHECK in network ${config.network}`, answer));
    const workloads = (
      answer.body as { workloads?: { workload?: unknown; ip?: unknown; netns?: unknown; ifname?: unknown }[] } | null
    )?.workloads;
    if (!Array.isArray(workloads))
      return failure(
        config.cniVersion,
        cniError(CniErrorCode.BAD_ANSWER, 'CHECK: networkd answered without workloads'),
      );
    const record = workloads.find((w) => typeof w === 'object' && w !== null && w.workload === workload);
    if (record === undefined)
      return mismatch(`networkd has no attachment of container ${key.containerId} to network ${config.network}`);
    if (`${record.ip}/24` !== expected)
      return mismatch(`networkd holds ${String(record.ip)}/24, prevResult says ${expected}`);
    if (record.netns !== netns) return mismatch(`networkd holds namespace ${String(record.netns)}`);
    return call({ kind: 'read-interface', netns, ifname: key.ifname }, (read) => {
      if (read.kind !== 'interface' || read.error !== undefined)
        return mismatch(`the namespace could not be read: ${read.kind === 'interface' ? read.error : read.kind}`);
      if (read.state === null) return mismatch(`no interface ${key.ifname} in the namespace`);
      if (!read.state.addresses.includes(expected))
        return mismatch(`${key.ifname} has ${read.state.addresses.join(', ') || 'no IPv4 address'}, not ${expected}`);
      return success();
    });
  });
}

function status(config: PluginConfig): Step {
  return call({ kind: 'get-network', socket: config.socket, network: config.network }, (answer) => {
    const unavailable = (msg: string) => failure(config.cniVersion, cniError(CniErrorCode.STATUS_NOT_AVAILABLE, msg));
    if (answer.kind === 'unreachable') return unavailable(`networkd is not answering at ${config.socket}`);
    if (answer.kind !== 'http' || answer.status !== 200)
      return unavailable(
        `network ${config.network}: ${apiErrorOf(answer.kind === 'http' ? answer.body : null)?.message ?? 'not available'}`,
      );
    const view = answer.body as {
      nrExists?: unknown;
      device?: { peers?: { lastHandshakeAgeSeconds?: unknown }[] } | null;
    } | null;
    if (view?.nrExists !== true) return unavailable(`network ${config.network}: its NR does not exist on this node`);
    const peers = view.device?.peers;
    if (!Array.isArray(peers)) return unavailable(`network ${config.network}: its WireGuard device is missing`);
    if (peers.length > 0 && !peers.some((p) => typeof p?.lastHandshakeAgeSeconds === 'number')) {
      return failure(
        config.cniVersion,
        cniError(
          CniErrorCode.STATUS_DEGRADED,
          `network ${config.network}: no handshake with any of its ${peers.length} peer(s)`,
        ),
      );
    }
    return success();
  });
}

function gc(config: PluginConfig, keep: readonly AttachmentKey[]): Step {
  const ids = keep.map(workloadIdOf);
  return call({ kind: 'gc', socket: config.socket, network: config.network, keep: ids }, (answer) => {
    // A network not applied here has nothing to collect.
    if (answer.kind === 'http' && answer.status === 404 && apiErrorOf(answer.body)?.code === 'ENOENT') return success();
    if (answer.kind !== 'http' || answer.status !== 200)
      return failure(config.cniVersion, networkdFailure(config, `GC of network ${config.network}`, answer));
    const errors = (answer.body as { errors?: unknown } | null)?.errors ?? [];
    if (!Array.isArray(errors))
      return failure(
        config.cniVersion,
        cniError(CniErrorCode.BAD_ANSWER, 'GC: networkd answered errors that are not a list'),
      );
    if (errors.length === 0) return success();
    const details = (errors as ({ workload?: unknown; message?: unknown } | null)[])
      .map((e) => `${String(e?.workload)}: ${String(e?.message)}`)
      .join('; ');
    return failure(
      config.cniVersion,
      cniError(
        CniErrorCode.NETWORKD_REFUSED,
        `GC of network ${config.network}: ${errors.length} release(s) failed`,
        details,
      ),
    );
  });
}

/** The first Step of an invocation. */
export function start(invocation: Invocation): Step {
  switch (invocation.command) {
    case 'VERSION': {
      const cniVersion =
        invocation.cniVersion !== null && isSupportedVersion(invocation.cniVersion)
          ? invocation.cniVersion
          : CURRENT_VERSION;
      return success({ cniVersion, supportedVersions: SUPPORTED_VERSIONS });
    }
    case 'ADD':
      return add(invocation.config, invocation.key, invocation.netns);
    case 'DEL':
      return del(invocation.config, invocation.key);
    case 'CHECK':
      return check(invocation.config, invocation.key, invocation.netns);
    case 'STATUS':
      return status(invocation.config);
    case 'GC':
      return gc(invocation.config, invocation.keep);
  }
}
