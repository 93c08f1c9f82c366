/**
 * What the CNI specification (containernetworking/cni SPEC.md, 1.0.0 and 1.1.0) fixes for a
 * plugin, as types: the versions zmesh-cni speaks, the error codes, the error document, and the
 * result document in each version a runtime may ask for. No I/O here.
 */

/** The versions a config may ask for; results are written in the config's version. */
export const SUPPORTED_VERSIONS = ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
/** The newest version spoken: what VERSION answers with when the config names none. */
export const CURRENT_VERSION: CniVersion = '1.1.0';

export function isSupportedVersion(version: string): version is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(version);
}

/** CHECK arrived in 0.4.0; GC and STATUS in 1.1.0. */
export function versionAllows(version: CniVersion, command: 'CHECK' | 'GC' | 'STATUS'): boolean {
  return command === 'CHECK' ? version !== '0.3.1' : version === '1.1.0';
}

/**
 * Error codes: 1–99 are the spec's (well known), 100 and up are zmesh-cni's own. The message of
 * each of ours names what failed (see core.ts).
 */
export const CniErrorCode = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  UNDECODABLE_CONTENT: 6,
  INVALID_NETWORK_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  STATUS_NOT_AVAILABLE: 50,
  STATUS_DEGRADED: 51,
  /** networkd refused the request for a reason none of the spec's codes names. */
  NETWORKD_REFUSED: 100,
  /** ADD of a container and ifname that is already attached (the spec forbids a second ADD). */
  ALREADY_ATTACHED: 101,
  /** CHECK found networkd's record or the namespace differing from prevResult. */
  CHECK_MISMATCH: 102,
  /** networkd answered something that is not its API's answer. */
  BAD_ANSWER: 103,
  /** zmesh-cni itself failed (a bug): the message names the error's class, never its text. */
  INTERNAL: 104,
} as const;
export type CniErrorCode = (typeof CniErrorCode)[keyof typeof CniErrorCode];

/** The error document a plugin prints on stdout (with a non-zero exit). */
export interface CniErrorDocument {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

export interface CniError {
  readonly code: CniErrorCode;
  readonly msg: string;
  readonly details?: string;
}

export function cniError(code: CniErrorCode, msg: string, details?: string): CniError {
  return details === undefined ? { code, msg } : { code, msg, details };
}

/** VERSION's answer. */
export interface VersionDocument {
  readonly cniVersion: string;
  readonly supportedVersions: readonly string[];
}

/** What an ADD found, independent of the version it is written in. */
export interface Attachment {
  readonly ifname: string;
  readonly mac: string | null;
  readonly mtu: number;
  readonly sandbox: string;
  /** Dotted quad and prefix length. */
  readonly ip: string;
  readonly prefix: number;
  readonly gateway: string;
  readonly routes: readonly { readonly destination: string; readonly via: string }[];
  readonly dns: DnsConfig | null;
}

export interface DnsConfig {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/**
 * The result document in `version`: 0.3.x and 0.4.0 carry `ips[].version`; 1.1.0 adds the
 * interface's `mtu`. The workload's interface is `interfaces[0]` and the IP names it.
 */
export function resultDocument(version: CniVersion, a: Attachment): object {
  const legacy = version === '0.3.1' || version === '0.4.0';
  const iface = {
    name: a.ifname,
    ...(a.mac === null ? {} : { mac: a.mac }),
    ...(version === '1.1.0' ? { mtu: a.mtu } : {}),
    sandbox: a.sandbox,
  };
  return {
    cniVersion: version,
    interfaces: [iface],
    ips: [{ ...(legacy ? { version: '4' } : {}), address: `${a.ip}/${a.prefix}`, gateway: a.gateway, interface: 0 }],
    routes: a.routes.map((r) => ({ dst: r.destination, gw: r.via })),
    dns: a.dns ?? {},
  };
}
