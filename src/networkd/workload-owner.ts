/**
 * Who a workload belongs to, and the grammar of the names that identify one: the workload end's
 * interface name and a container runtime's container id. networkd's API parses with these and
 * zmesh-cni refuses a CNI_IFNAME or CNI_CONTAINERID that networkd would refuse, so both say the
 * same. No imports: the plugin loads this on its start-up path.
 */

/**
 * A CNI workload is its runtime's (container id + ifname): a second ADD of it is refused rather
 * than answered, as the CNI spec says, and GC releases the CNI workloads the runtime no longer
 * names; the API's workloads are never touched by either.
 */
export type WorkloadOwner = { readonly kind: 'api' } | { readonly kind: 'cni'; readonly containerId: string };

export const API_OWNER: WorkloadOwner = Object.freeze({ kind: 'api' });

/** The CNI spec's container id: alphanumerics and "_", ".", "-", starting alphanumeric (bounded here). */
export const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,1023}$/;

/** What the kernel accepts as an interface name, minus characters that confuse tools ("." and ".." too). */
export const IFNAME = /^[A-Za-z0-9_.+-]{1,15}$/;

export function isIfname(value: string): boolean {
  return IFNAME.test(value) && value !== '.' && value !== '..';
}
