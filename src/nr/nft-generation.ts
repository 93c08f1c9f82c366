/**
 * The nftables generation of a namespace: a counter the kernel bumps on every nftables change
 * committed in that namespace (NFT_MSG_GETGEN over NETLINK_NETFILTER). Reading it costs one
 * netlink round trip where reading a table costs an nft(8) process, so a reconcile can tell
 * "nothing in this namespace's nftables changed since I verified my tables" at almost no cost.
 *
 * Kernel access that belongs with src/nr/kernel; it lives here until that layer offers it.
 */
import { createNetlink } from 'netlink';
import { native } from '../native/binding.js';

const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_GETGEN = 16;
const NFT_MSG_NEWGEN = 15;
const NFTA_GEN_ID = 1;
const TIMEOUT_MS = 2000;

type NativeGeneration = (netnsPath: string | null) => Promise<number>;

/**
 * The addon's reader (native/nft.c), which closes its socket after answering: releasing an
 * nftables socket waits for a pending commit's cleanup, an RCU grace period (7–18 ms on the JS
 * thread right after each table replacement here). null for an addon built before it existed.
 */
function nativeReader(): NativeGeneration | null {
  const addon = native() as unknown as { nftGeneration?: NativeGeneration };
  return typeof addon.nftGeneration === 'function' ? addon.nftGeneration.bind(addon) : null;
}

/**
 * The generation just after this process committed there: read by the addon, so that the slow
 * close is not the JS thread's. Elsewhere nftGeneration is cheaper (no thread to start): with no
 * commit pending, the close is immediate.
 */
export async function nftGenerationAfterCommit(netnsPath: string | null): Promise<number | null> {
  const read = nativeReader();
  if (read === null) return nftGeneration(netnsPath);
  try {
    return await read(netnsPath);
  } catch {
    return null;
  }
}

/** The request's netlink message type and body (struct nfgenmsg: AF_UNSPEC, NFNETLINK_V0, res_id 0). */
export const GETGEN_TYPE = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
export const GETGEN_BODY: Uint8Array = new Uint8Array(4);

/** The generation id in an answer to GETGEN, or null when it is not one. */
export function generationOfAnswer(message: { type: number; data: Buffer }): number | null {
  if ((message.type & 0xff) !== NFT_MSG_NEWGEN) return null;
  for (let at = 4; at + 4 <= message.data.length; ) {
    const length = message.data.readUInt16LE(at);
    const type = message.data.readUInt16LE(at + 2) & 0x3fff;
    if (length < 4) break;
    if (type === NFTA_GEN_ID && length >= 8) return message.data.readUInt32BE(at + 4);
    at += (length + 3) & ~3;
  }
  return null;
}

/** The generation id, or null when it cannot be read (the caller then reads tables). */
export async function nftGeneration(netnsPath: string | null): Promise<number | null> {
  let socket: ReturnType<typeof createNetlink>;
  try {
    socket = native().inNetns(netnsPath, () => createNetlink(NETLINK_NETFILTER));
  } catch {
    return null;
  }
  socket.socket.on('error', () => {});
  try {
    // struct nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0.
    const [messages] = await socket.request(GETGEN_TYPE, [GETGEN_BODY], { timeout: TIMEOUT_MS });
    for (const message of messages) {
      const generation = generationOfAnswer(message);
      if (generation !== null) return generation;
    }
    return null;
  } catch {
    return null;
  } finally {
    socket.close();
  }
}
