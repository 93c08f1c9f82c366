/**
 * The error of every kernel WireGuard operation: a code (the errno name, e.g. `ENODEV`, or
 * `EINVAL` for input refused before anything was sent), what was being done to which device in
 * which namespace, and where the kernel said no (the netlink stage, the SET_DEVICE message and
 * its peers, the kernel's own extended-ack text). Never carries a key.
 */
export interface KernelWgErrorContext {
  /** What was being done: 'set', 'get', 'create link', 'probe', ... */
  readonly operation: string;
  readonly device?: string;
  readonly netnsPath?: string | null;
  /** The field refused (input errors): `peers[3].allowedIps[2]`, `privateKey`, ... */
  readonly field?: string;
  /** The netlink step: 'SET_DEVICE', 'RTM_NEWLINK', 'resolve generic netlink family wireguard', ... */
  readonly stage?: string;
  /** SET_DEVICE: the 1-based message that failed. */
  readonly messageIndex?: number;
  readonly kernelMessage?: string;
}

export class KernelWgError extends Error {
  override readonly name = 'KernelWgError';
  readonly code: string;
  /** Positive errno (EINVAL's for input errors). */
  readonly errno: number;
  readonly context: KernelWgErrorContext;

  constructor(
    code: string,
    errno: number,
    message: string,
    context: KernelWgErrorContext,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.errno = errno;
    this.context = context;
  }
}

const EINVAL = 22;

/** Input refused before the kernel was asked: names the field and the reason. */
export function invalidInput(operation: string, field: string, reason: string, device?: string): KernelWgError {
  const on = device === undefined ? '' : ` of '${device}'`;
  return new KernelWgError('EINVAL', EINVAL, `kernel WireGuard ${operation}${on}: ${field}: ${reason}`, {
    operation,
    field,
    ...(device === undefined ? {} : { device }),
  });
}

interface AddonError {
  message: string;
  /** Input errors: the field refused and why. */
  field?: unknown;
  reason?: unknown;
  code?: unknown;
  errno?: unknown;
  stage?: unknown;
  messageIndex?: unknown;
  kernelMessage?: unknown;
}

/** Wraps what the addon threw (its message already says what and where) into a KernelWgError. */
export function fromAddon(err: unknown, context: KernelWgErrorContext): KernelWgError {
  if (err instanceof KernelWgError) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as AddonError;
  if (e.code === 'EINVAL' && typeof e.field === 'string' && typeof e.reason === 'string') {
    return invalidInput(context.operation, e.field, e.reason, context.device);
  }
  const code = typeof e.code === 'string' ? e.code : 'EIO';
  const errno = typeof e.errno === 'number' ? e.errno : 5;
  return new KernelWgError(
    code,
    errno,
    e.message,
    {
      ...context,
      ...(typeof e.stage === 'string' ? { stage: e.stage } : {}),
      ...(typeof e.messageIndex === 'number' ? { messageIndex: e.messageIndex } : {}),
      ...(typeof e.kernelMessage === 'string' ? { kernelMessage: e.kernelMessage } : {}),
    },
    { cause: err },
  );
}
