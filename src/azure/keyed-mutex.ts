/**
 * One holder per key at a time, in arrival order. Azure writes to one ARM object (an NSG, a firewall policy) are
 * read-modify-write: two reconciles targeting the same object would both read, both pick the same free priority,
 * and one would fail or, worse, win with stale state. ARM also serialises writes per object itself (a second PUT
 * meets `AnotherOperationInProgress`), so queueing here costs nothing. Keys are compared case-insensitively, as
 * ARM compares resource ids.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier holder of `key` has finished (resolved or thrown). */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const k = key.toLowerCase();
    const previous = this.tails.get(k) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(k, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // Forget the key when nobody queued behind us, so the map does not grow with every object ever written.
      if (this.tails.get(k) === tail) this.tails.delete(k);
    }
  }

  /** Keys with a holder or waiters (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}

/** The process-wide lock for ARM objects: every backend that writes Azure takes it per target resource id. */
export const armObjectLocks = new KeyedMutex();
