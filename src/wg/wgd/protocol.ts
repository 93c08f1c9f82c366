/**
 * The control protocol of `zmesh wgd`: what a request and an answer are, and the strict parser
 * that turns one line of JSON into a typed request (or an EINVAL naming the field) and one line of
 * answer back into a typed response (for the client).
 *
 * Framing (see control-server.ts): one JSON object per line, several per connection, answered in
 * order. Requests:
 *   {"op":"create","name":"w-abc","netns":"/run/netns/n-abc","mtu":1420}
 *   {"op":"delete","name":"w-abc"}
 *   {"op":"delete-many","names":["w-abc","w-def"]}   (one burst: their TUNs are let go together)
 *   {"op":"list"}
 *   {"op":"ping"}
 * Any request may carry `"id"` (a string of ≤ 128 characters or a safe integer), echoed in its
 * answer. Answers are `{"ok":true,...}` or `{"ok":false,"error":{"code":"EINVAL","message":"..."}}`.
 * Unknown ops and fields and wrong types are refused: a typo never silently means a default.
 */
import path from 'node:path';
import { WGD_ERROR_CODES, WgdError, invalidField, type WgdErrorCode } from './errors.js';

/** Interface name: what Linux accepts and what is safe as a file name (`<name>.sock`). */
export type DeviceName = string & { readonly __brand: 'DeviceName' };
/** Absolute, normalised path of a network namespace file (e.g. /run/netns/n-abc). */
export type NetnsPath = string & { readonly __brand: 'NetnsPath' };
export type RequestId = string | number;

export const MIN_MTU = 576;
export const MAX_MTU = 65455;
const MAX_ID_LENGTH = 128;
const MAX_PATH_BYTES = 4095;
const IFNAME_MAX_BYTES = 15;
/** Names in one delete-many: a node's devices, with room. */
export const MAX_DELETE_MANY = 4096;

export type WgdRequest =
  | { readonly op: 'create'; readonly name: DeviceName; readonly netns: NetnsPath; readonly mtu: number | null }
  | { readonly op: 'delete'; readonly name: DeviceName }
  | { readonly op: 'delete-many'; readonly names: readonly DeviceName[] }
  | { readonly op: 'list' }
  | { readonly op: 'ping' };

export type WgdOp = WgdRequest['op'];

/** A request as parsed from a line: the request, or why it was refused; `id` whenever readable. */
export type ParsedLine =
  | { readonly ok: true; readonly id: RequestId | undefined; readonly request: WgdRequest }
  | { readonly ok: false; readonly id: RequestId | undefined; readonly error: WgdError };

export interface DeviceInfo {
  readonly name: string;
  readonly netns: string;
  readonly mtu: number;
  readonly uapiSocket: string;
  readonly listenPort: number;
  readonly peers: number;
  /** Packets and messages dropped, by reason (absent from an older wgd). */
  readonly drops?: Readonly<Record<string, number>>;
}

export interface CreateResult {
  readonly device: DeviceInfo;
  /** false: the device existed with the same parameters (create is idempotent). */
  readonly created: boolean;
}
export interface DeleteResult {
  readonly existed: boolean;
}
export interface DeleteManyResult {
  /** The names given that were devices (the others were not there: fine, as for delete). */
  readonly existed: readonly string[];
}
export interface ListResult {
  readonly devices: readonly DeviceInfo[];
}
export interface PingResult {
  readonly pid: number;
  readonly uptimeMs: number;
  readonly devices: number;
  /** The daemon's memory as Node counts it (bytes; absent from a wgd before it was added). */
  readonly memory?: WgdMemory;
}
/** process.memoryUsage() of wgd: RSS, the V8 heap, and memory V8 objects hold outside it. */
export interface WgdMemory {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** What each op answers on success (the body beside `ok: true`). */
export interface ResultOf {
  create: CreateResult;
  delete: DeleteResult;
  'delete-many': DeleteManyResult;
  list: ListResult;
  ping: PingResult;
}

const FIELDS: Readonly<Record<WgdOp, { readonly required: readonly string[]; readonly optional: readonly string[] }>> =
  {
    create: { required: ['name', 'netns'], optional: ['mtu'] },
    delete: { required: ['name'], optional: [] },
    'delete-many': { required: ['names'], optional: [] },
    list: { required: [], optional: [] },
    ping: { required: [], optional: [] },
  };
const OPS = Object.keys(FIELDS) as WgdOp[];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseDeviceName(value: unknown, field = 'name'): DeviceName {
  if (typeof value !== 'string') throw invalidField(field, `must be a string, not ${describeType(value)}`);
  if (value === '' || Buffer.byteLength(value) > IFNAME_MAX_BYTES)
    throw invalidField(field, `must be 1–${IFNAME_MAX_BYTES} bytes (an interface name)`);
  if (!/^[A-Za-z0-9_.=+-]+$/.test(value) || value === '.' || value === '..') {
    throw invalidField(field, 'may hold only letters, digits and _.=+- (an interface name that is also a file name)');
  }
  return value as DeviceName;
}

export function parseNetnsPath(value: unknown, field = 'netns'): NetnsPath {
  if (typeof value !== 'string') throw invalidField(field, `must be a string, not ${describeType(value)}`);
  if (!value.startsWith('/') || value.includes('\0') || Buffer.byteLength(value) > MAX_PATH_BYTES) {
    throw invalidField(field, 'must be the absolute path of a network namespace, such as /run/netns/NAME');
  }
  // Normalised paths only, so that one namespace has one spelling and create stays idempotent.
  if (path.posix.normalize(value) !== value || (value.length > 1 && value.endsWith('/'))) {
    throw invalidField(field, 'must be a normalised path (no "//", "." or ".." components, no trailing "/")');
  }
  return value as NetnsPath;
}

export function parseMtu(value: unknown, field = 'mtu'): number {
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw invalidField(field, `must be an integer, not ${describeType(value)}`);
  if (value < MIN_MTU || value > MAX_MTU) throw invalidField(field, `must be from ${MIN_MTU} to ${MAX_MTU}`);
  return value;
}

function parseId(value: unknown): RequestId {
  if (typeof value === 'string' && value.length <= MAX_ID_LENGTH) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw invalidField('id', `must be a string of at most ${MAX_ID_LENGTH} characters or a safe integer`);
}

/** A request object (already JSON-decoded) as a typed request; throws EINVAL naming the field. */
export function parseRequest(value: unknown): WgdRequest {
  if (!isRecord(value)) throw invalidField('request', `must be a JSON object, not ${describeType(value)}`);
  const op = value.op;
  if (op === undefined) throw invalidField('op', `is required (one of ${OPS.join(', ')})`);
  if (typeof op !== 'string') throw invalidField('op', `must be a string, not ${describeType(op)}`);
  if (!(OPS as string[]).includes(op))
    throw invalidField('op', `unknown op ${JSON.stringify(op.slice(0, 32))} (one of ${OPS.join(', ')})`);
  const spec = FIELDS[op as WgdOp];
  for (const key of Object.keys(value)) {
    if (key === 'op' || key === 'id' || spec.required.includes(key) || spec.optional.includes(key)) continue;
    throw invalidField(printableField(key), `unknown field for op ${op}`);
  }
  for (const key of spec.required) if (value[key] === undefined) throw invalidField(key, `is required for op ${op}`);
  switch (op as WgdOp) {
    case 'create':
      return {
        op: 'create',
        name: parseDeviceName(value.name),
        netns: parseNetnsPath(value.netns),
        mtu: value.mtu === undefined ? null : parseMtu(value.mtu),
      };
    case 'delete':
      return { op: 'delete', name: parseDeviceName(value.name) };
    case 'delete-many': {
      const names = value.names;
      if (!Array.isArray(names) || names.length === 0 || names.length > MAX_DELETE_MANY)
        throw invalidField('names', `must be an array of 1–${MAX_DELETE_MANY} device names`);
      return { op: 'delete-many', names: names.map((name, i) => parseDeviceName(name, `names[${i}]`)) };
    }
    case 'list':
      return { op: 'list' };
    case 'ping':
      return { op: 'ping' };
  }
}

/** One line of the control socket (without its newline) as a request or a refusal. */
export function parseRequestLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { ok: false, id: undefined, error: invalidField('request', `not JSON (${(error as Error).message})`) };
  }
  let id: RequestId | undefined;
  if (isRecord(value) && value.id !== undefined) {
    try {
      id = parseId(value.id);
    } catch (error) {
      return { ok: false, id: undefined, error: error as WgdError };
    }
  }
  try {
    return { ok: true, id, request: parseRequest(value) };
  } catch (error) {
    if (error instanceof WgdError) return { ok: false, id, error };
    throw error;
  }
}

/** The answer line (newline included) for a result or an error. */
export function formatAnswer(
  id: RequestId | undefined,
  outcome: { ok: true; body: object } | { ok: false; error: WgdError },
): string {
  const head = id === undefined ? {} : { id };
  const answer = outcome.ok
    ? { ...head, ok: true, ...outcome.body }
    : { ...head, ok: false, error: { code: outcome.error.code, message: outcome.error.message } };
  return `${JSON.stringify(answer)}\n`;
}

// ------------------------------------------------------------------ answers (client side)

function field<T>(record: Record<string, unknown>, key: string, check: (v: unknown) => v is T, what: string): T {
  const v = record[key];
  if (!check(v)) throw new WgdError('EPROTO', `answer field ${key} is not ${what}`, { field: key });
  return v;
}
const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';

function parseDeviceInfo(v: unknown): DeviceInfo {
  if (!isRecord(v)) throw new WgdError('EPROTO', 'answer: a device is not an object');
  return {
    name: field(v, 'name', isString, 'a string'),
    netns: field(v, 'netns', isString, 'a string'),
    mtu: field(v, 'mtu', isCount, 'a count'),
    uapiSocket: field(v, 'uapiSocket', isString, 'a string'),
    listenPort: field(v, 'listenPort', isCount, 'a count'),
    peers: field(v, 'peers', isCount, 'a count'),
    ...(v['drops'] === undefined ? {} : { drops: parseDrops(v['drops']) }),
  };
}

function parseDrops(v: unknown): Record<string, number> {
  if (!isRecord(v) || !Object.values(v).every(isCount))
    throw new WgdError('EPROTO', 'answer field drops is not an object of counts', { field: 'drops' });
  return v as Record<string, number>;
}

/**
 * One answer line as the result of `op`; an `ok: false` answer becomes the WgdError it carries
 * (same code), anything that is not the protocol an EPROTO.
 */
export function parseAnswer<Op extends WgdOp>(
  op: Op,
  line: string,
): { id: RequestId | undefined; result: ResultOf[Op] } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new WgdError('EPROTO', 'answer is not JSON');
  }
  if (!isRecord(value)) throw new WgdError('EPROTO', 'answer is not a JSON object');
  const id = typeof value.id === 'string' || typeof value.id === 'number' ? value.id : undefined;
  if (value.ok === false) {
    const error = value.error;
    if (!isRecord(error) || typeof error.code !== 'string' || typeof error.message !== 'string') {
      throw new WgdError('EPROTO', 'error answer without code and message');
    }
    const code = (WGD_ERROR_CODES as readonly string[]).includes(error.code) ? (error.code as WgdErrorCode) : 'EIO';
    throw new WgdError(code, error.message);
  }
  if (value.ok !== true) throw new WgdError('EPROTO', 'answer has no ok field');
  const results: { [K in WgdOp]: () => ResultOf[K] } = {
    create: () => ({ device: parseDeviceInfo(value.device), created: field(value, 'created', isBoolean, 'a boolean') }),
    delete: () => ({ existed: field(value, 'existed', isBoolean, 'a boolean') }),
    'delete-many': () => ({
      existed: field(
        value,
        'existed',
        (v): v is string[] => Array.isArray(v) && v.every(isString),
        'an array of names',
      ),
    }),
    list: () => {
      const devices = value.devices;
      if (!Array.isArray(devices))
        throw new WgdError('EPROTO', 'answer field devices is not an array', { field: 'devices' });
      return { devices: devices.map(parseDeviceInfo) };
    },
    ping: () => ({
      pid: field(value, 'pid', isCount, 'a count'),
      uptimeMs: field(value, 'uptimeMs', isCount, 'a count'),
      devices: field(value, 'devices', isCount, 'a count'),
      ...(value.memory === undefined ? {} : { memory: parseMemory(value.memory) }),
    }),
  };
  return { id, result: results[op]() as ResultOf[Op] };
}

// ------------------------------------------------------------------ helpers

function parseMemory(v: unknown): WgdMemory {
  if (!isRecord(v)) throw new WgdError('EPROTO', 'answer field memory is not an object', { field: 'memory' });
  const count = (key: keyof WgdMemory): number => field(v, key, isCount, 'a count');
  return {
    rss: count('rss'),
    heapTotal: count('heapTotal'),
    heapUsed: count('heapUsed'),
    external: count('external'),
    arrayBuffers: count('arrayBuffers'),
  };
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** A field name from the client, shortened and stripped of control characters for the message. */
function printableField(key: string): string {
  const clean = key.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 32 ? `${clean.slice(0, 32)}…` : clean;
}
