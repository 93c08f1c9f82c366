/**
 * One periodic timer for the same work of many devices in one process (reading the data plane's
 * activity, checking the TUN link). wgd hosts hundreds of devices: a timer each woke the idle
 * process hundreds of times a second, where one wake-up a period serves them all.
 *
 * The timer holds the event loop only while tasks are registered, as each device's own timers
 * did (or never, with `unref`, for work that must not keep a process alive). A task that throws
 * does not keep the others from running; its error is rethrown on its own turn, an uncaught
 * exception as it was with a timer per device.
 */
export class SharedTicker {
  readonly #periodMs: number;
  readonly #unref: boolean;
  readonly #tasks = new Set<() => void>();
  #timer: NodeJS.Timeout | null = null;

  constructor(periodMs: number, options: { unref?: boolean } = {}) {
    this.#periodMs = periodMs;
    this.#unref = options.unref === true;
  }

  get size(): number {
    return this.#tasks.size;
  }

  /** Runs `task` once a period from now on; returns the function that stops it (idempotent). */
  add(task: () => void): () => void {
    const own = (): void => task(); // a distinct entry even when one function is added twice
    this.#tasks.add(own);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#run(), this.#periodMs);
      if (this.#unref) this.#timer.unref();
    }
    return () => {
      this.#tasks.delete(own);
      if (this.#tasks.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    };
  }

  #run(): void {
    // A task may remove itself or others (a device that finds its link gone closes): a Set's
    // iteration skips what was deleted and visits what was added.
    for (const task of this.#tasks) {
      try {
        task();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
