/**
 * ConfigOnlyDevice: the configuration half of a WireGuard device, with no data plane — a
 * UapiDevice that holds a DeviceConfig and applies set requests with applySet.
 *
 * Useful wherever a configuration must be accepted, validated and read back exactly as a real
 * device would, without sockets or TUNs: `--dry-run` tools, and the tests that drive the UAPI
 * server with the real wg(8). Its `get` reports the configuration with no live state (no
 * handshakes, zero counters, the configured endpoint and listen port).
 */
import sodium from 'libsodium-wrappers';
import { EMPTY_DEVICE_CONFIG, applySet, type ConfigChange, type DeviceConfig, type SetRequest } from '../config.js';
import type { UapiDevice } from './server.js';
import { viewFromConfig, type DeviceView } from './view.js';

/** X25519 public key of a private key, via libsodium (which must be ready). */
export function deriveX25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return sodium.crypto_scalarmult_base(privateKey);
}

export class ConfigOnlyDevice implements UapiDevice {
  #config: DeviceConfig;
  #lastChanges: readonly ConfigChange[] = [];

  private constructor(config: DeviceConfig) {
    this.#config = config;
  }

  static async create(initial: DeviceConfig = EMPTY_DEVICE_CONFIG): Promise<ConfigOnlyDevice> {
    await sodium.ready;
    return new ConfigOnlyDevice(initial);
  }

  get config(): DeviceConfig {
    return this.#config;
  }

  /** The changes the last successful set produced (what a real device would have carried out). */
  get lastChanges(): readonly ConfigChange[] {
    return this.#lastChanges;
  }

  get(): DeviceView {
    return viewFromConfig(this.#config);
  }

  set(request: SetRequest): void {
    const { config, changes } = applySet(this.#config, request, deriveX25519PublicKey);
    this.#config = config;
    this.#lastChanges = changes;
  }
}
