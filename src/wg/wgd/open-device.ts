/**
 * Opens the real device for wgd's registry: a WireGuardDevice whose TUN is created in the NR's
 * namespace (the `netns` of the request) and whose UDP sockets are created in wgd's own namespace
 * (the node's), so the mesh never routes its own underlay.
 *
 * Owns the translation of what the kernel says into errors that name the request field: a
 * missing namespace is ENOENT on `netns`, a file that is not a namespace EINVAL on `netns`, a link
 * of that name already in the namespace EEXIST on `name` (a TUN is never attached to a link
 * someone else made).
 */
import { existsSync } from 'node:fs';
import { native } from '../../native/binding.js';
import { WireGuardDevice } from '../device.js';
import { WgdError } from './errors.js';
import type { DeviceSpec, HostedDevice, OpenDevice } from './registry.js';

function errnoCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : 'error';
}

/** The OpenDevice of the daemon; `log` receives the devices' diagnostics (no secrets). */
export function realDeviceOpener(log?: (device: string, message: string) => void): OpenDevice {
  return async (spec: DeviceSpec): Promise<HostedDevice> => {
    if (!existsSync(spec.netns)) {
      throw new WgdError('ENOENT', `netns: ${spec.netns} does not exist`, {
        field: 'netns',
        device: spec.name,
        path: spec.netns,
      });
    }
    let index: number;
    try {
      index = native().linkIndex(spec.netns, spec.name);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'EINVAL')
        throw new WgdError('EINVAL', `netns: ${spec.netns} is not a network namespace`, {
          field: 'netns',
          path: spec.netns,
        });
      throw new WgdError(
        'EIO',
        `netns: cannot enter ${spec.netns}: ${code}`,
        { field: 'netns', path: spec.netns },
        { cause: error },
      );
    }
    if (index > 0) {
      throw new WgdError('EEXIST', `name: a link named ${spec.name} already exists in ${spec.netns}`, {
        field: 'name',
        device: spec.name,
        path: spec.netns,
      });
    }
    try {
      return await WireGuardDevice.create({
        name: spec.name,
        tunNetns: spec.netns,
        udpNetns: null,
        mtu: spec.mtu,
        onGone: spec.onGone,
        ...(log ? { log: (message: string) => log(spec.name, message) } : {}),
      });
    } catch (error) {
      const code = errnoCode(error);
      // The native layer's errors carry only errno names and argument names: safe to pass on.
      throw new WgdError(
        code === 'EEXIST' || code === 'EBUSY' ? 'EEXIST' : 'EIO',
        `name: cannot create device ${spec.name} in ${spec.netns}: ${code}`,
        { field: 'name', device: spec.name },
        { cause: error },
      );
    }
  };
}
