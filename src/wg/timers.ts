/**
 * The timers of the protocol paper (section 6), evaluated by polling: the
 * kernel arms and cancels timers on packet events; here the same events are
 * folded into a few timestamps per peer (`PeerTimers`) from what the data
 * plane reports, and `dueTimers` says which timers have expired at `now`.
 * protocol.ts acts on the result. Pure functions of their arguments, so a
 * fake clock proves every timer.
 *
 * The kernel's timers and their equivalents here:
 * - retransmit_handshake → `retransmitAt` (REKEY_TIMEOUT + jitter after each
 *   initiation; after REKEY_ATTEMPT_TIME of trying: give up).
 * - send_keepalive (passive keepalive) → `unansweredReceiveSince`: data
 *   received and nothing authenticated sent since; due KEEPALIVE_TIMEOUT later.
 * - new_handshake → `newHandshakeAt`: data sent and nothing authenticated
 *   received since; due KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter later.
 * - zero_key_material → `zeroKeysAt`: 3 × REJECT_AFTER_TIME after the last
 *   session was derived (or after giving up a handshake).
 * - persistent_keepalive → `lastTraversalAt` + the peer's interval.
 * The keypair-age rules (rekey after time/messages, reject after, rekey on
 * receive) are `shouldRekeyOnSend`, `shouldRekeyOnReceive`, `isKeypairExpired`.
 */
import {
  KEEPALIVE_TIMEOUT,
  NEW_HANDSHAKE_AFTER,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_ATTEMPT_TIME,
  REKEY_ON_RECEIVE_AFTER,
  REKEY_TIMEOUT,
  ZERO_KEYS_AFTER,
} from './constants.js';

export interface PeerTimers {
  lastAuthenticatedSentAt: number | null;
  lastAuthenticatedReceivedAt: number | null;
  lastDataSentAt: number | null;
  lastDataReceivedAt: number | null;
  /** Last authenticated packet in either direction, handshakes included (persistent keepalive). */
  lastTraversalAt: number | null;
  unansweredReceiveSince: number | null;
  unansweredSendSince: number | null;
  newHandshakeAt: number | null;
  /** When the current series of initiation attempts began; null when no handshake is being attempted. */
  attemptStartedAt: number | null;
  retransmitAt: number | null;
  lastInitiationSentAt: number | null;
  zeroKeysAt: number | null;
  sentLastMinuteHandshake: boolean;
}

export function newPeerTimers(): PeerTimers {
  return {
    lastAuthenticatedSentAt: null,
    lastAuthenticatedReceivedAt: null,
    lastDataSentAt: null,
    lastDataReceivedAt: null,
    lastTraversalAt: null,
    unansweredReceiveSince: null,
    unansweredSendSince: null,
    newHandshakeAt: null,
    attemptStartedAt: null,
    retransmitAt: null,
    lastInitiationSentAt: null,
    zeroKeysAt: null,
    sentLastMinuteHandshake: false,
  };
}

const later = (a: number | null, b: number) => (a === null || b > a ? b : a);
const isNewer = (candidate: number | null, known: number | null): candidate is number =>
  candidate !== null && Number.isFinite(candidate) && (known === null || candidate > known);

/** Any authenticated packet went out (data, keepalive or handshake): a pending passive keepalive is answered. */
export function noteAuthenticatedSent(t: PeerTimers, at: number): void {
  t.lastAuthenticatedSentAt = later(t.lastAuthenticatedSentAt, at);
  t.lastTraversalAt = later(t.lastTraversalAt, at);
  if (t.unansweredReceiveSince !== null && at >= t.unansweredReceiveSince) t.unansweredReceiveSince = null;
}

/** Any authenticated packet came in: the peer is alive, so the "no reply for 15 s" timer stops. */
export function noteAuthenticatedReceived(t: PeerTimers, at: number): void {
  t.lastAuthenticatedReceivedAt = later(t.lastAuthenticatedReceivedAt, at);
  t.lastTraversalAt = later(t.lastTraversalAt, at);
  if (t.unansweredSendSince !== null && at >= t.unansweredSendSince) {
    t.unansweredSendSince = null;
    t.newHandshakeAt = null;
  }
}

/** `jitter` is called only when the new-handshake timer is armed (not per report). */
export function noteDataSent(t: PeerTimers, at: number, jitter: () => number): void {
  t.lastDataSentAt = later(t.lastDataSentAt, at);
  const answered = t.lastAuthenticatedReceivedAt !== null && t.lastAuthenticatedReceivedAt >= at;
  if (!answered && t.unansweredSendSince === null) {
    t.unansweredSendSince = at;
    t.newHandshakeAt = at + NEW_HANDSHAKE_AFTER + jitter();
  }
}

export function noteDataReceived(t: PeerTimers, at: number): void {
  t.lastDataReceivedAt = later(t.lastDataReceivedAt, at);
  const answered = t.lastAuthenticatedSentAt !== null && t.lastAuthenticatedSentAt >= at;
  if (!answered && t.unansweredReceiveSince === null) t.unansweredReceiveSince = at;
}

export interface ReportedTimes {
  readonly lastDataSentAt: number | null;
  readonly lastDataReceivedAt: number | null;
  readonly lastAuthenticatedSentAt: number | null;
  readonly lastAuthenticatedReceivedAt: number | null;
}

export interface AbsorbedActivity {
  readonly sentAuthenticated: boolean;
  readonly receivedAuthenticated: boolean;
}

/**
 * Folds a data-plane report into the timers, replaying its events in time
 * order (on a tie a receive comes before the send that answers it). Only
 * times newer than those already known count, so a repeated report is a no-op.
 */
export function absorbReportedTimes(t: PeerTimers, report: ReportedTimes, jitter: () => number): AbsorbedActivity {
  type Event = { at: number; order: number; apply: () => void };
  const events: Event[] = [];
  if (isNewer(report.lastDataReceivedAt, t.lastDataReceivedAt)) {
    const at = report.lastDataReceivedAt;
    events.push({ at, order: 0, apply: () => noteDataReceived(t, at) });
  }
  if (isNewer(report.lastAuthenticatedReceivedAt, t.lastAuthenticatedReceivedAt)) {
    const at = report.lastAuthenticatedReceivedAt;
    events.push({ at, order: 1, apply: () => noteAuthenticatedReceived(t, at) });
  }
  if (isNewer(report.lastDataSentAt, t.lastDataSentAt)) {
    const at = report.lastDataSentAt;
    events.push({ at, order: 2, apply: () => noteDataSent(t, at, jitter) });
  }
  if (isNewer(report.lastAuthenticatedSentAt, t.lastAuthenticatedSentAt)) {
    const at = report.lastAuthenticatedSentAt;
    events.push({ at, order: 3, apply: () => noteAuthenticatedSent(t, at) });
  }
  events.sort((a, b) => a.at - b.at || a.order - b.order);
  for (const event of events) event.apply();
  return {
    sentAuthenticated: events.some((e) => e.order === 3 || e.order === 2),
    receivedAuthenticated: events.some((e) => e.order === 0 || e.order === 1),
  };
}

/** An initiation went out: arm the retransmission (REKEY_TIMEOUT + jitter). */
export function noteInitiationSent(t: PeerTimers, now: number, jitter: number, isRetry: boolean): void {
  if (!isRetry && t.attemptStartedAt === null) t.attemptStartedAt = now;
  t.lastInitiationSentAt = now;
  t.retransmitAt = now + REKEY_TIMEOUT + jitter;
  noteAuthenticatedSent(t, now);
}

/** Rate limit of initiations: at most one per REKEY_TIMEOUT unless it is the retransmission itself. */
export function mayInitiate(t: PeerTimers, now: number): boolean {
  return t.lastInitiationSentAt === null || now - t.lastInitiationSentAt >= REKEY_TIMEOUT;
}

export function handshakeInProgress(t: PeerTimers): boolean {
  return t.retransmitAt !== null;
}

/** A handshake completed (response consumed, or the responder's keypair confirmed). */
export function noteHandshakeComplete(t: PeerTimers): void {
  t.retransmitAt = null;
  t.attemptStartedAt = null;
  t.sentLastMinuteHandshake = false;
}

/** A new session was derived (either role): keys are zeroed if no other follows within 3 × REJECT_AFTER_TIME. */
export function noteSessionDerived(t: PeerTimers, now: number): void {
  t.zeroKeysAt = now + ZERO_KEYS_AFTER;
}

/** Giving up: stop retransmitting, cancel the passive keepalive, and zero keys later unless already scheduled. */
export function noteGaveUp(t: PeerTimers, now: number): void {
  t.retransmitAt = null;
  t.attemptStartedAt = null;
  t.unansweredReceiveSince = null;
  if (t.zeroKeysAt === null) t.zeroKeysAt = now + ZERO_KEYS_AFTER;
}

export type DueTimer =
  | 'retransmitHandshake'
  | 'giveUpHandshake'
  | 'newHandshake'
  | 'passiveKeepalive'
  | 'persistentKeepalive'
  | 'zeroKeys';

/** The timers expired at `now`, in the order they should be acted on. */
export function dueTimers(t: PeerTimers, now: number, persistentKeepaliveMs: number): DueTimer[] {
  const due: DueTimer[] = [];
  if (t.zeroKeysAt !== null && now >= t.zeroKeysAt) due.push('zeroKeys');
  if (t.retransmitAt !== null && now >= t.retransmitAt) {
    const started = t.attemptStartedAt ?? t.lastInitiationSentAt ?? now;
    due.push(now - started >= REKEY_ATTEMPT_TIME ? 'giveUpHandshake' : 'retransmitHandshake');
  }
  if (t.newHandshakeAt !== null && now >= t.newHandshakeAt) due.push('newHandshake');
  if (t.unansweredReceiveSince !== null && now - t.unansweredReceiveSince >= KEEPALIVE_TIMEOUT)
    due.push('passiveKeepalive');
  if (persistentKeepaliveMs > 0 && t.lastTraversalAt !== null && now - t.lastTraversalAt >= persistentKeepaliveMs)
    due.push('persistentKeepalive');
  return due;
}

/**
 * The earliest time at which dueTimers(t, ·, persistentKeepaliveMs) is not empty (Infinity: never,
 * until the timers change). The core skips a peer whose time has not come, so a tick over
 * 10,000 idle peers does no per-peer work; it must be recomputed whenever `t` changes.
 */
export function nextTimerDueAt(t: PeerTimers, persistentKeepaliveMs: number): number {
  let due = Infinity;
  if (t.zeroKeysAt !== null) due = Math.min(due, t.zeroKeysAt);
  if (t.retransmitAt !== null) due = Math.min(due, t.retransmitAt);
  if (t.newHandshakeAt !== null) due = Math.min(due, t.newHandshakeAt);
  if (t.unansweredReceiveSince !== null) due = Math.min(due, t.unansweredReceiveSince + KEEPALIVE_TIMEOUT);
  if (persistentKeepaliveMs > 0 && t.lastTraversalAt !== null)
    due = Math.min(due, t.lastTraversalAt + persistentKeepaliveMs);
  return due;
}

export interface KeypairAge {
  readonly createdAt: number;
  readonly initiator: boolean;
}

/** Sending on a keypair past REKEY_AFTER_TIME (initiator only) or past REKEY_AFTER_MESSAGES (either role) asks for a new one. */
export function shouldRekeyOnSend(keypair: KeypairAge, sentAt: number, sendCounter: bigint): boolean {
  return sendCounter > REKEY_AFTER_MESSAGES || (keypair.initiator && sentAt - keypair.createdAt >= REKEY_AFTER_TIME);
}

/** The initiator receiving on a keypair older than REJECT − KEEPALIVE − REKEY_TIMEOUT (165 s) rekeys once. */
export function shouldRekeyOnReceive(keypair: KeypairAge, receivedAt: number, t: PeerTimers): boolean {
  return !t.sentLastMinuteHandshake && keypair.initiator && receivedAt - keypair.createdAt >= REKEY_ON_RECEIVE_AFTER;
}

/** When isKeypairExpired becomes true for a keypair whose counter stays at sendCounter. */
export function keypairExpiresAt(keypair: KeypairAge, sendCounter: bigint): number {
  return sendCounter >= REJECT_AFTER_MESSAGES ? -Infinity : keypair.createdAt + REJECT_AFTER_TIME;
}

/** A keypair may not be used after REJECT_AFTER_TIME or once its counter reaches REJECT_AFTER_MESSAGES. */
export function isKeypairExpired(keypair: KeypairAge, now: number, sendCounter: bigint): boolean {
  return now - keypair.createdAt >= REJECT_AFTER_TIME || sendCounter >= REJECT_AFTER_MESSAGES;
}
