/**
 * Settles as `work` does, or rejects with "no answer within <ms> ms" (a message
 * classifyDependencyFailure reads as a timeout) when it has not settled by then. `work` is not
 * cancelled: the caller stops waiting for it.
 */
export const withTimeout = <T>(work: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
