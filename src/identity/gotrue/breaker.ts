export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  threshold: number;
  /** How long an open circuit refuses calls before one trial call is let through. */
  cooldownMs: number;
  clock: () => number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A consecutive-failure circuit breaker. While GoTrue is down, waiting for a
 * connect or header timeout on every request would tie up sockets and callers;
 * an open circuit fails them at once, and after the cooldown a single trial
 * call decides whether to close it again.
 */
export function createCircuitBreaker({ threshold, cooldownMs, clock }: BreakerOptions) {
  let failures = 0;
  let openedAt: number | null = null;
  let trialInFlight = false;

  function state(): BreakerState {
    if (openedAt === null) return 'closed';
    return clock() - openedAt >= cooldownMs ? 'half-open' : 'open';
  }

  return {
    state,
    /** Milliseconds until a trial call is allowed (0 when calls pass). */
    retryAfterMs: () => (openedAt === null ? 0 : Math.max(0, openedAt + cooldownMs - clock())),
    /** Whether a call may go out now; in half-open, only one at a time does. */
    tryAcquire(): boolean {
      const current = state();
      if (current === 'closed') return true;
      if (current === 'open' || trialInFlight) return false;
      trialInFlight = true;
      return true;
    },
    success() {
      failures = 0;
      openedAt = null;
      trialInFlight = false;
    },
    failure() {
      failures += 1;
      // A failed trial re-opens for a full cooldown.
      if (trialInFlight || failures >= threshold) openedAt = clock();
      trialInFlight = false;
    },
  };
}

export type CircuitBreaker = ReturnType<typeof createCircuitBreaker>;
