/**
 * The edge of the API: request bodies and path parameters become typed values here, or an
 * EINVAL naming the field and the reason. Unknown fields are refused, so a typo never silently
 * means a default. Inside networkd these types are trusted.
 */
import path from 'node:path';
import { NETWORK_NAME_PATTERN } from '../netdef/index.js';
import { invalid } from './errors.js';
import { API_OWNER, CONTAINER_ID, type WorkloadOwner, isIfname } from './workload-owner.js';

export type NetworkName = string & { readonly __brand: 'NetworkName' };
export type WorkloadId = string & { readonly __brand: 'WorkloadId' };
export type TaskId = string & { readonly __brand: 'TaskId' };

export interface AttachRequest {
  readonly workload: WorkloadId;
  /** Absolute, normalised path of the workload's network namespace. */
  readonly netns: string;
  /** Interface name of the workload end (e.g. eth0). */
  readonly ifname: string;
  /** The address asked for (dotted quad), checked against the subnet by allocation. */
  readonly ip: string | undefined;
  /** Who attaches it: the API's callers, or a container runtime through zmesh-cni. */
  readonly owner: WorkloadOwner;
}

/** POST /v1/networks/{name}/workloads/gc: the CNI workloads to keep (every other is released). */
export interface GcRequest {
  readonly keep: ReadonlySet<string>;
}

const networkName = new RegExp(NETWORK_NAME_PATTERN);
/** Container ids (64 hex), pod UIDs, VM names: printable, no "/" so it can never be a path. */
const WORKLOAD_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const TASK_ID = /^[\x21-\x7e]{1,128}$/;
const MAX_PATH_BYTES = 4095;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function shown(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > 64 ? `${clean.slice(0, 64)}…` : clean);
}

export function parseNetworkName(value: string, field = 'name'): NetworkName {
  if (!networkName.test(value))
    throw invalid(
      field,
      `${shown(value)} is not a network name (1-63 characters of A-Z, a-z, 0-9, ".", "_", "-", starting with a letter or digit)`,
    );
  return value as NetworkName;
}

export function parseWorkloadId(value: unknown, field = 'workload'): WorkloadId {
  if (typeof value !== 'string') throw invalid(field, `must be a string, not ${describe(value)}`);
  if (!WORKLOAD_ID.test(value))
    throw invalid(
      field,
      `${shown(value)} is not a workload id (1-128 characters of A-Z, a-z, 0-9, ".", "_", ":", "@", "-", starting with a letter or digit)`,
    );
  return value as WorkloadId;
}

export function parseNetnsPath(value: unknown, field = 'netns'): string {
  if (typeof value !== 'string') throw invalid(field, `must be a string, not ${describe(value)}`);
  if (!value.startsWith('/') || value.includes('\0') || Buffer.byteLength(value) > MAX_PATH_BYTES) {
    throw invalid(
      field,
      'must be the absolute path of a network namespace, such as /run/netns/NAME or /proc/PID/ns/net',
    );
  }
  if (path.posix.normalize(value) !== value || (value.length > 1 && value.endsWith('/'))) {
    throw invalid(field, 'must be a normalised path (no "//", "." or ".." components, no trailing "/")');
  }
  return value;
}

export function parseIfname(value: unknown, field = 'ifname'): string {
  if (typeof value !== 'string') throw invalid(field, `must be a string, not ${describe(value)}`);
  if (!isIfname(value))
    throw invalid(
      field,
      `${shown(value)} is not an interface name (1-15 characters of A-Z, a-z, 0-9, "_", ".", "+", "-")`,
    );
  return value;
}

export function parseAttachRequest(body: unknown): AttachRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('body', `must be a JSON object, not ${describe(body)}`);
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!['workload', 'netns', 'ifname', 'ip', 'owner', 'containerId'].includes(key)) {
      throw invalid(
        shown(key).slice(1, -1),
        'unknown field (expected workload, netns, ifname, ip, owner, containerId)',
      );
    }
  }
  for (const key of ['workload', 'netns', 'ifname']) if (record[key] === undefined) throw invalid(key, 'is required');
  const ip = record.ip;
  if (ip !== undefined && typeof ip !== 'string') throw invalid('ip', `must be a string, not ${describe(ip)}`);
  return {
    workload: parseWorkloadId(record.workload),
    netns: parseNetnsPath(record.netns),
    ifname: parseIfname(record.ifname),
    ip: ip as string | undefined,
    owner: parseOwner(record.owner, record.containerId),
  };
}

function parseOwner(owner: unknown, containerId: unknown): WorkloadOwner {
  if (owner === undefined || owner === 'api') {
    if (containerId !== undefined) throw invalid('containerId', 'is given only with owner "cni"');
    return API_OWNER;
  }
  if (owner !== 'cni')
    throw invalid('owner', `must be "api" or "cni", not ${typeof owner === 'string' ? shown(owner) : describe(owner)}`);
  if (containerId === undefined) throw invalid('containerId', 'is required with owner "cni"');
  if (typeof containerId !== 'string') throw invalid('containerId', `must be a string, not ${describe(containerId)}`);
  if (!CONTAINER_ID.test(containerId))
    throw invalid('containerId', `${shown(containerId)} is not a container id (alphanumerics, "_", ".", "-")`);
  return { kind: 'cni', containerId };
}

export function parseGcRequest(body: unknown): GcRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('body', `must be a JSON object, not ${describe(body)}`);
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record))
    if (key !== 'keep') throw invalid(shown(key).slice(1, -1), 'unknown field (expected keep)');
  if (!Array.isArray(record.keep))
    throw invalid('keep', `must be an array of workload ids, not ${describe(record.keep)}`);
  return { keep: new Set(record.keep.map((id, index) => parseWorkloadId(id, `keep/${index}`))) };
}

/** The optional X-Task-Id header: 1-128 printable ASCII characters. */
export function parseTaskId(value: string | string[] | undefined): TaskId | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw invalid('X-Task-Id', 'given more than once');
  if (!TASK_ID.test(value)) throw invalid('X-Task-Id', 'must be 1-128 printable ASCII characters without spaces');
  return value as TaskId;
}
