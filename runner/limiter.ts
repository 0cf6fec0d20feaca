/** Runs at most `max` async operations at once; the rest wait in FIFO order. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  /** Creates a limiter admitting `max` (at least 1) operations at a time. */
  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`\`parallel\` must be a positive integer, got ${max}`);
  }

  /** Runs `fn` once a slot is free and releases the slot when it settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter so `active` never exceeds `max`.
      if (next) next();
      else this.active -= 1;
    }
  }
}
