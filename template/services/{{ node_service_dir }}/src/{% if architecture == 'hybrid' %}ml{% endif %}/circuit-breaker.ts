/**
 * A small circuit breaker: after `failureThreshold` failures in a row it opens, and calls fail at
 * once (no socket, no timeout to wait for) until `resetAfterMs` has passed; then one trial call is
 * let through, which closes the circuit if it succeeds and opens it again if it fails.
 */
export class CircuitOpenError extends Error {
  override name = 'CircuitOpenError';
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  #failures = 0;
  #openedAt = 0;
  #trialInFlight = false;
  readonly failureThreshold: number;
  readonly resetAfterMs: number;
  readonly now: () => number;

  constructor(options: { failureThreshold: number; resetAfterMs: number; now?: () => number }) {
    this.failureThreshold = options.failureThreshold;
    this.resetAfterMs = options.resetAfterMs;
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.#failures < this.failureThreshold) return 'closed';
    return this.now() - this.#openedAt >= this.resetAfterMs ? 'half-open' : 'open';
  }

  /** How long until the circuit lets a trial call through: 0 unless it is open. */
  get msUntilHalfOpen(): number {
    if (this.state !== 'open') return 0;
    return this.resetAfterMs - (this.now() - this.#openedAt);
  }

  /** Run `call` through the circuit; `isFailure` says which errors count against the service. */
  async run<T>(call: () => Promise<T>, isFailure: (error: unknown) => boolean): Promise<T> {
    const state = this.state;
    if (state === 'open' || (state === 'half-open' && this.#trialInFlight)) {
      throw new CircuitOpenError('the circuit is open');
    }
    this.#trialInFlight = state === 'half-open';
    try {
      const result = await call();
      this.#failures = 0;
      return result;
    } catch (error) {
      if (isFailure(error)) this.#recordFailure();
      throw error;
    } finally {
      if (state === 'half-open') this.#trialInFlight = false;
    }
  }

  #recordFailure(): void {
    this.#failures = Math.min(this.#failures + 1, this.failureThreshold);
    if (this.#failures >= this.failureThreshold) this.#openedAt = this.now();
  }
}
