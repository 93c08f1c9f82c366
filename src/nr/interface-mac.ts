/**
 * The MAC address of a workload's interface, read back after an attach so the answer can carry
 * it (zmesh-cni's result names it): one rtnetlink dump inside the workload's namespace, here in
 * networkd's process, instead of a process the plugin would have to start on every ADD.
 */
import { Rtnl } from './kernel/index.js';

/** The interface's MAC (aa:bb:...), or null when it has none or could not be read. */
export async function readInterfaceMac(netns: string, ifname: string): Promise<string | null> {
  let rtnl: Rtnl | undefined;
  try {
    rtnl = Rtnl.open(netns);
    return (await rtnl.listLinks()).find((l) => l.name === ifname)?.mac ?? null;
  } catch {
    return null; // the attach is done; a missing MAC only leaves the answer without one
  } finally {
    rtnl?.close();
  }
}
