/** Kernel WireGuard (generic netlink through the native addon) for the rest of zmesh. */
export {
  createLink,
  deleteLink,
  getDevice,
  listLinks,
  setDevice,
  wireguardFamilyAvailable,
  type KernelDevice,
  type KernelDeviceSet,
  type KernelPeer,
  type KernelPeerSet,
} from './device.js';
export { KernelWgError, type KernelWgErrorContext } from './errors.js';
export { KernelWgBackend, configurationDiff, type KernelWgBackendOptions } from './backend.js';
