/**
 * What a task is: the one schema (TypeBox) of the four task types, the edge where JSON becomes a
 * trusted Task (every rejection names the JSON pointer of the field and the reason), the network
 * a task belongs to (its ordering key) and its canonical body (the idempotency fingerprint).
 *
 * A network.apply task carries a whole network definition, checked by netdef's own parser, so a
 * definition provisiond accepts is one networkd accepts structurally. Definitions contain only
 * sealed private keys and public keys; values of key fields are never echoed in errors.
 */
import { createHash } from 'node:crypto';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import {
  IPV4_ADDRESS_PATTERN,
  NETWORK_NAME_PATTERN,
  type NetworkDefinition,
  canonicalJson,
  parseNetworkDefinition,
} from '../netdef/index.js';
import { StructuralCheck } from '../netdef/structural.js';
import { NetworkdError } from '../networkd/errors.js';
import { parseNetnsPath } from '../networkd/requests.js';
import { type Issue, invalid, invalidDocument } from './errors.js';

export { canonicalJson };

export const TASK_TYPES = ['network.apply', 'network.delete', 'workload.attach', 'workload.detach'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** What networkd accepts as X-Task-Id: the id travels there unchanged. */
export const TASK_ID_PATTERN = '^[\\x21-\\x7e]{1,128}$';
/** networkd's workload id rule (requests.ts): no "/", so it can never be a path. */
export const WORKLOAD_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$';
export const IFNAME_PATTERN = '^[A-Za-z0-9_.+-]{1,15}$';

const TaskId = Type.String({
  pattern: TASK_ID_PATTERN,
  title: 'task id',
  description: '1-128 printable ASCII characters without spaces',
});
const NetworkName = Type.String({
  pattern: NETWORK_NAME_PATTERN,
  title: 'network name',
  description: '1-63 characters of A-Z, a-z, 0-9, ".", "_", "-", starting with a letter or digit',
});
const WorkloadId = Type.String({
  pattern: WORKLOAD_ID_PATTERN,
  title: 'workload id',
  description: '1-128 characters of A-Z, a-z, 0-9, ".", "_", ":", "@", "-", starting with a letter or digit',
});

export const NetworkApplyTaskSchema = Type.Object(
  {
    id: TaskId,
    type: Type.Literal('network.apply'),
    definition: Type.Unknown({ description: 'a whole network definition (network-definition.schema.json)' }),
  },
  { additionalProperties: false, title: 'network.apply task' },
);

export const NetworkDeleteTaskSchema = Type.Object(
  { id: TaskId, type: Type.Literal('network.delete'), network: NetworkName },
  { additionalProperties: false, title: 'network.delete task' },
);

export const WorkloadAttachTaskSchema = Type.Object(
  {
    id: TaskId,
    type: Type.Literal('workload.attach'),
    network: NetworkName,
    workload: WorkloadId,
    netns: Type.String({
      minLength: 1,
      maxLength: 4095,
      title: 'netns',
      description: 'absolute path of the workload network namespace',
    }),
    ifname: Type.String({
      pattern: IFNAME_PATTERN,
      title: 'interface name',
      description: '1-15 characters of A-Z, a-z, 0-9, "_", ".", "+", "-"',
    }),
    ip: Type.Optional(
      Type.String({
        pattern: IPV4_ADDRESS_PATTERN,
        title: 'ip',
        description: 'an IPv4 address (dotted quad) inside the NR subnet',
      }),
    ),
  },
  { additionalProperties: false, title: 'workload.attach task' },
);

export const WorkloadDetachTaskSchema = Type.Object(
  { id: TaskId, type: Type.Literal('workload.detach'), network: NetworkName, workload: WorkloadId },
  { additionalProperties: false, title: 'workload.detach task' },
);

/** The published schema of a task (one of the four). */
export const TaskSchema = Type.Union(
  [NetworkApplyTaskSchema, NetworkDeleteTaskSchema, WorkloadAttachTaskSchema, WorkloadDetachTaskSchema],
  {
    $id: 'task.schema.json',
    title: 'zmesh provisioning task',
  },
);

export type TaskIdText = string & { readonly __brand: 'TaskId' };
export type NetworkApplyTask = Omit<Static<typeof NetworkApplyTaskSchema>, 'id' | 'definition'> & {
  readonly id: TaskIdText;
  readonly definition: NetworkDefinition;
};
export type NetworkDeleteTask = Omit<Static<typeof NetworkDeleteTaskSchema>, 'id'> & { readonly id: TaskIdText };
export type WorkloadAttachTask = Omit<Static<typeof WorkloadAttachTaskSchema>, 'id'> & { readonly id: TaskIdText };
export type WorkloadDetachTask = Omit<Static<typeof WorkloadDetachTaskSchema>, 'id'> & { readonly id: TaskIdText };
export type Task = NetworkApplyTask | NetworkDeleteTask | WorkloadAttachTask | WorkloadDetachTask;

const checks = new Map<TaskType, StructuralCheck<TSchema>>();
function checkFor(type: TaskType): StructuralCheck<TSchema> {
  let check = checks.get(type);
  if (!check) {
    const schema = {
      'network.apply': NetworkApplyTaskSchema,
      'network.delete': NetworkDeleteTaskSchema,
      'workload.attach': WorkloadAttachTaskSchema,
      'workload.detach': WorkloadDetachTaskSchema,
    }[type];
    check = new StructuralCheck<TSchema>(schema);
    checks.set(type, check);
  }
  return check;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Every problem of a task document, each with the JSON pointer under `base`; [] when valid. */
export function taskIssues(input: unknown, base = ''): Issue[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return [{ path: base || '/', message: `a task must be a JSON object, not ${describe(input)}` }];
  const record = input as Record<string, unknown>;
  const type = record.type;
  if (type === undefined)
    return [{ path: `${base}/type`, message: `required field "type" is missing (one of ${TASK_TYPES.join(', ')})` }];
  if (typeof type !== 'string' || !(TASK_TYPES as readonly string[]).includes(type)) {
    const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : describe(type);
    return [{ path: `${base}/type`, message: `unknown task type ${shown} (expected one of ${TASK_TYPES.join(', ')})` }];
  }
  const check = checkFor(type as TaskType);
  if (!check.check(input)) return check.issues(input).map((i) => ({ path: `${base}${i.path}`, message: i.message }));
  if (type === 'network.apply') {
    const parsed = parseNetworkDefinition(record.definition);
    if (!parsed.ok) return parsed.errors.map((i) => ({ path: `${base}/definition${i.path}`, message: i.message }));
  }
  if (type === 'workload.attach') {
    try {
      parseNetnsPath(record.netns, `${base}/netns`);
    } catch (error) {
      if (error instanceof NetworkdError)
        return [{ path: `${base}/netns`, message: error.message.replace(/^[^:]*: /, '') }];
      throw error;
    }
  }
  return [];
}

/** A task from JSON, or EINVAL naming the first bad field (all issues in the context). */
export function parseTask(input: unknown, base = ''): Task {
  const issues = taskIssues(input, base);
  if (issues.length > 0) {
    const id = (input as { id?: unknown } | null)?.id;
    throw invalidDocument(
      'task',
      issues,
      typeof id === 'string' && new RegExp(TASK_ID_PATTERN).test(id) ? { task: id } : {},
    );
  }
  return input as Task;
}

/** A task or an array of tasks (a spool file or a submit body): all valid, or EINVAL for the first bad one. */
export function parseTasks(input: unknown): Task[] {
  if (!Array.isArray(input)) return [parseTask(input)];
  if (input.length === 0) throw invalid('/', 'an empty array of tasks');
  const tasks = input.map((item, index) => parseTask(item, `/${index}`));
  const seen = new Map<string, number>();
  tasks.forEach((task, index) => {
    const earlier = seen.get(task.id);
    if (earlier !== undefined && canonicalJson(tasks[earlier]) !== canonicalJson(task)) {
      throw invalid(
        `/${index}/id`,
        `task id ${JSON.stringify(task.id)} is also used by /${earlier} with a different body`,
      );
    }
    seen.set(task.id, index);
  });
  return tasks;
}

/** The network a task belongs to: tasks of one network run in submission order. */
export function networkOf(task: Task): string {
  return task.type === 'network.apply' ? task.definition.name : task.network;
}

/** The fingerprint of a task's body: same id + same fingerprint is the same task. */
export function fingerprintOf(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex');
}
