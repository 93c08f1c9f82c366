/**
 * One change at a time: API changes and reconcile passes run in arrival order, so a network's
 * changes are never reordered and reconcile never races an apply. A failed task does not stop
 * the ones after it.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  get pending(): number {
    return this.#pending;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(work, work).finally(() => {
      this.#pending--;
    });
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
