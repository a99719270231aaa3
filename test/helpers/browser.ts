/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser download does not
 * work here): `apt-get install chromium` (scripts/test-all.sh does it when missing).
 */
import { existsSync, rmSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.METERLEDGER_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (scripts/test-all.sh installs it)`);
  // --no-sandbox: CI runs the tests as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/**
 * The teardown of a portal test, in order: the meter's report timer stopped, the browser,
 * the meter and the gateway closed, the data dir removed.
 */
export async function closePortalRig(r: {
  ticker: NodeJS.Timeout | undefined; browser: Browser | undefined; meter: { close(): Promise<unknown> } | undefined;
  gw: { stop(): Promise<unknown> } | undefined; dir: string;
}): Promise<void> {
  clearInterval(r.ticker);
  await r.browser?.close();
  await r.meter?.close();
  await r.gw?.stop();
  rmSync(r.dir, { recursive: true, force: true });
}
