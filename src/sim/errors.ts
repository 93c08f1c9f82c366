// Typed errors of the simulated multi-node world. Each carries a stable code and the context
// a reader needs (which node, network, workload, command); none ever carries key material:
// node identity keys and WireGuard private keys stay in their 0600 files and are never read
// into a message.
import { CodedError } from '../common/coded-error.js';

export type SimErrorCode =
  | 'INVALID_ARGUMENT' // a node id, network name or option the world refuses
  | 'UNKNOWN_NODE' // no node of that id in this world
  | 'TOOL_FAILED' // the zmesh tool (node init, net ...) exited non-zero
  | 'NETWORKD_FAILED' // networkd did not start, or its API answered with an error
  | 'NOT_READY' // something awaited (an API, a handshake) did not happen in time
  | 'TEARDOWN_FAILED'; // one or more teardown steps failed (all were attempted)

export class SimError extends CodedError<SimErrorCode, Readonly<Record<string, unknown>>> {
  override readonly name = 'SimError';
}
