/**
 * networkd's workload links: nr's engine (src/nr/workload-link.ts — plan as nr steps, apply with
 * nr's apply) with its errors as networkd's API errors: EINVAL and ECONFLICT keep their field and
 * message (a 400 or 409 naming netns or ifname), a failed read or step is EKERNEL saying what
 * failed and where.
 */
import * as nr from '../nr/index.js';
import { NetworkdError } from './errors.js';

/** An NrError of a workload link as networkd's error (anything else as it is). */
function asNetworkd(error: unknown): unknown {
  if (!(error instanceof nr.NrError)) return error;
  const field = error.context.field;
  if (error.code === 'EINVAL' || error.code === 'ECONFLICT') {
    return new NetworkdError(error.code, error.message, field === undefined ? {} : { field }, { cause: error });
  }
  return new NetworkdError('EKERNEL', error.message, {}, { cause: error });
}

async function mapped<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw asNetworkd(error);
  }
}

/** Whether `path` exists to be entered; EINVAL naming `field` when not. */
export function checkNetnsExists(path: string, field = 'netns'): void {
  try {
    nr.checkNetnsExists(path, field);
  } catch (error) {
    throw asNetworkd(error);
  }
}

/** Names of the workload veths (`wl-*`) in an NR. */
export function listWorkloadLinks(nrNetns: string): Promise<string[]> {
  return mapped(() => nr.listWorkloadLinks(nrNetns));
}

/** Creates (or confirms) the workload's veth and its configuration; true when something changed. */
export function attachWorkloadLink(spec: nr.WorkloadLinkSpec): Promise<boolean> {
  return mapped(() => nr.attachWorkloadLink(spec));
}

/** Removes the veth (its workload end goes with it). Missing is fine. */
export function detachWorkloadLink(nrNetns: string, link: string): Promise<void> {
  return mapped(() => nr.detachWorkloadLink(nrNetns, link));
}

/** nr's KernelWorkloadLinks (it keeps watches) with networkd's errors. */
export class KernelWorkloadLinks {
  readonly #links = new nr.KernelWorkloadLinks();

  attach(spec: nr.WorkloadLinkSpec): Promise<boolean> {
    return mapped(() => this.#links.attach(spec));
  }

  detach(nrNetns: string, link: string): Promise<void> {
    return mapped(() => this.#links.detach(nrNetns, link));
  }

  list(nrNetns: string): Promise<string[]> {
    return mapped(() => this.#links.list(nrNetns));
  }

  /** Stops watching every namespace but these: they are no longer ours to check. */
  retain(paths: Iterable<string>): void {
    this.#links.retain(paths);
  }

  close(): void {
    this.#links.close();
  }
}
