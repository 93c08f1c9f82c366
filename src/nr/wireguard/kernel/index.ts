/** Kernel WireGuard (generic netlink through the native addon) for the rest of zmesh. */
export {
  createLink,
  deleteLink,
  getDevice,
  listLinks,
  setDevice,
  wireguardFamilyAvailable,
} from './device.js';
export type { KernelDevice, KernelDeviceSet, KernelPeer, KernelPeerSet } from './types.js';
export { KernelWgError, type KernelWgErrorContext } from './errors.js';
export { KernelWgBackend, configurationDiff, type KernelWgBackendOptions } from './backend.js';
