/** Polling until a condition holds, for tests of things that settle in their own time. */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `cond()` is true; throws naming `what` after `ms`. Polls every `every` ms. */
export async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 30_000, every = 200): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}
