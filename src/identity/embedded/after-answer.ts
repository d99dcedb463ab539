/**
 * Work an answer does not wait for. Whether an address has an account must not
 * show in how long /otp, /recover or /resend take: the lookup, the code and the
 * message all happen after the answer, which is then the same for every address.
 */
export interface AfterAnswer {
  /** Starts `task` once the current answer has been written; its failure goes to the error handler. */
  run(task: () => Promise<unknown>): void;
  /** Resolves when nothing started by run() is still going (shutdown; tests reading sent messages). */
  settled(): Promise<void>;
}

export function createAfterAnswer(onError: (error: unknown) => void): AfterAnswer {
  const pending = new Set<Promise<void>>();
  return {
    run(task) {
      // setImmediate: after the I/O phase that writes the answer, never before it.
      const running: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
        .then(task)
        .then(() => undefined, onError)
        .finally(() => pending.delete(running));
      pending.add(running);
    },
    async settled() {
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}
