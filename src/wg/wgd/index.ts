/**
 * `zmesh wgd` for the rest of zmesh: the daemon (daemon.ts), how networkd talks to it
 * (client.ts) and the protocol's types. See daemon.ts for why wgd outlives networkd.
 */
export { Wgd, type WgdOptions } from './daemon.js';
export { WgdClient, type CreateDeviceRequest, type WgdClientOptions } from './client.js';
export { WgdError, type WgdErrorCode, type WgdErrorContext } from './errors.js';
export { DEFAULT_UAPI_DIR, DeviceRegistry, type DeviceSpec, type HostedDevice, type OpenDevice } from './registry.js';
export { realDeviceOpener } from './open-device.js';
export { WGD_NODE_OPTIONS } from './node-options.js';
export {
  ControlServer,
  DEFAULT_MAX_LINE_BYTES,
  type ControlServerOptions,
  type RequestHandler,
} from './control-server.js';
export type { CreateResult, DeleteResult, DeviceInfo, ListResult, PingResult, WgdRequest } from './protocol.js';
