/**
 * Resolves after `ms`; rejects at once with `new Error(abortMessage)` when `signal` aborts, leaving no timer
 * behind (so that stopping or closing an example does not wait for its pauses). The message is the caller's:
 * each example says why it stopped in its own words ("stopped", "closing").
 */
export function sleep(ms: number, signal: AbortSignal, abortMessage: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error(abortMessage));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error(abortMessage));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
