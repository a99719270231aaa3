/**
 * A confidential meter in the portal, in Chromium (playwright-core) against a real gateway
 * process: `init --confidential --billing`, `meterledger simulate` over real MQTT. The meter
 * page shows the readings sealed (times and seq only, nothing charted); after the owner's
 * recipient key file is chosen the page opens them itself and shows the values
 * `meterledger reading decrypt` prints; another owner's key file is refused with
 * E_CONF_NOT_RECIPIENT. No request the page makes carries the key. After `meter rotate`, the
 * readings and period key signed by the new key open as well. Screenshots in test-artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { launchChromium } from '../../helpers/browser.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { startConfidentialGateway } from '../../helpers/confidential-gateway.js';
import { ownerSession } from '../../helpers/owner-session.js';

declare const document: { querySelectorAll(s: string): { length: number }; getElementById(id: string): { textContent: string | null } | null };

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));
const READINGS = 10;
const kWh = (wh: number): string => (wh / 1000).toLocaleString('en', { minimumFractionDigits: 3, maximumFractionDigits: 3 });

describe('portal: a confidential meter\'s readings open in the browser with the owner\'s key file', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-portal-sealed-'));
  let gw: GatewayProcess;
  let browser: Browser;
  /** seq -> importWh, as `reading decrypt` prints them. */
  const expected = new Map<string, number>();

  before(async () => {
    gw = await startConfidentialGateway(dir, READINGS);
    const readings = await gw.json<{ readings: unknown[] }>('/api/v1/meters/meter-0001/readings?fromSeq=0&limit=1000');
    assert.equal(readings.body.readings.length, READINGS);
    writeFileSync(join(dir, 'readings.json'), JSON.stringify(readings.body));
    const dec = await cli(['reading', 'decrypt', join(dir, 'readings.json'), '--key', dataPaths(dir).recipientKey('owner-0001'), '--data-dir', dir],
      { env: { ...process.env, METERLEDGER_URL: gw.httpUrl, METERLEDGER_HTTP_ADMIN_TOKEN: gw.adminToken } });
    assert.equal(dec.code, 0, dec.stderr);
    for (const l of dec.stdout.trim().split('\n')) {
      const j = JSON.parse(l) as { seq: string; importWh: number };
      expected.set(j.seq, j.importWh);
    }
    assert.equal(expected.size, READINGS);
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A browser signed in with owner-0001's session (its account key signs the gateway's challenge). */
  async function context(): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'UTC', locale: 'en-GB' });
    const token = await ownerSession(gw.httpUrl, 'owner-0001', dataPaths(dir).accountKey('owner-0001'));
    await ctx.addInitScript({ content: `sessionStorage.setItem('meterledger.accessToken', ${JSON.stringify(token)});` });
    return ctx;
  }

  /** The meter page with every request it makes recorded (URL, headers, body), and its errors. */
  async function meterPage(ctx: BrowserContext): Promise<{ page: Page; requests: string[]; problems: string[] }> {
    const page = await ctx.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => requests.push(`${r.method()} ${r.url()} ${JSON.stringify(r.headers())} ${r.postData() ?? ''}`));
    await page.goto(`http://127.0.0.1:${gw.httpPort}/portal/meter?id=meter-0001`);
    await page.waitForSelector('main[data-loaded="true"]', { timeout: 60_000 });
    await page.waitForFunction((n) => document.querySelectorAll('tr[data-state="sealed"]').length === n, READINGS, { timeout: 60_000 });
    return { page, requests, problems };
  }

  test('sealed until the owner\'s key file is chosen; then the values decrypt prints; the key is never sent', async () => {
    const ctx = await context();
    try {
      const { page, requests, problems } = await meterPage(ctx);
      // Sealed: seq and time shown, no value, nothing to chart.
      const cells = await page.$$eval('tr[data-state="sealed"]', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      assert.equal(cells.length, READINGS);
      for (const c of cells) {
        assert.ok(expected.has(c[0]!), `seq ${c[0]}`);
        assert.notEqual(c[1], '—', 'the time is shown');
        assert.equal(c[2], 'sealed');
      }
      assert.match((await page.textContent('#chart'))!, /No verified readings to chart yet/);
      await page.screenshot({ path: join(ARTIFACTS, 'portal-sealed-before.png'), fullPage: true });

      const keyFile = dataPaths(dir).recipientKey('owner-0001');
      const secret = (JSON.parse(readFileSync(keyFile, 'utf8')) as { secretKey: string }).secretKey;
      await page.setInputFiles('#recipient-key', keyFile);
      await page.waitForFunction(() => /Opened/.test(document.getElementById('sealed-state')?.textContent ?? ''), undefined, { timeout: 30_000 });
      await page.waitForFunction((n) => document.querySelectorAll('tr[data-state="opened"]').length === n, READINGS, { timeout: 30_000 });
      const opened = await page.$$eval('tr[data-state="opened"]', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      for (const c of opened) assert.equal(c[2], kWh(expected.get(c[0]!)!), `seq ${c[0]} opens to what reading decrypt prints`);
      assert.ok(await page.locator('#chart canvas').count() > 0, 'the opened values are charted');
      await page.screenshot({ path: join(ARTIFACTS, 'portal-sealed-opened.png'), fullPage: true });

      assert.ok(requests.some((r) => r.includes('/api/v1/meters/meter-0001/period-keys')), 'the page fetched the period keys');
      for (const r of requests) assert.ok(!r.toLowerCase().includes(secret.toLowerCase()), `no request carries the key: ${r.slice(0, 120)}`);
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  test('another owner\'s key file is refused with E_CONF_NOT_RECIPIENT; the readings stay sealed', async () => {
    const ctx = await context();
    try {
      const { page, problems } = await meterPage(ctx);
      await page.setInputFiles('#recipient-key', dataPaths(dir).recipientKey('owner-0002'));
      await page.waitForFunction(() => /Refused/.test(document.getElementById('sealed-state')?.textContent ?? ''), undefined, { timeout: 30_000 });
      assert.match((await page.textContent('#sealed-state'))!, /E_CONF_NOT_RECIPIENT/);
      assert.equal(await page.getAttribute('#sealed-state', 'role'), 'alert');
      assert.equal(await page.locator('tr[data-state="sealed"]').count(), READINGS);
      assert.equal(await page.locator('tr[data-state="opened"]').count(), 0);
      await page.screenshot({ path: join(ARTIFACTS, 'portal-sealed-refused.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
  test('after a key rotation: the readings and period key signed by the new key open too (keys in force from the registry)', async () => {
    const env = { ...process.env, METERLEDGER_URL: gw.httpUrl, METERLEDGER_HTTP_ADMIN_TOKEN: gw.adminToken };
    const rot = await cli(['meter', 'rotate', '--meter', 'meter-0001', '--data-dir', dir], { env });
    assert.equal(rot.code, 0, rot.stdout + rot.stderr);
    // A second run: a new period key, and readings, signed by meter-0001's rotated key.
    const sim = await cli(['simulate', '--data-dir', dir, '--mqtt', gw.mqttUrl, '--http', gw.httpUrl, '--meters', '1', '--readings', String(READINGS), '--json'], { timeoutMs: 90_000, env });
    assert.equal(sim.code, 0, sim.stdout + sim.stderr);
    const s = JSON.parse(sim.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    assert.deepEqual([s.sent, s.receipted, s.rejected, s.period_keys], [READINGS, READINGS, 0, 1], sim.stdout);
    const all = await gw.json<{ readings: unknown[] }>('/api/v1/meters/meter-0001/readings?fromSeq=0&limit=1000');
    assert.equal(all.body.readings.length, 2 * READINGS);
    writeFileSync(join(dir, 'readings-2.json'), JSON.stringify(all.body));
    const dec = await cli(['reading', 'decrypt', join(dir, 'readings-2.json'), '--key', dataPaths(dir).recipientKey('owner-0001'), '--data-dir', dir], { env });
    assert.equal(dec.code, 0, dec.stderr);
    const want = new Map(dec.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: string; importWh: number }).map((j) => [j.seq, j.importWh] as const));
    assert.equal(want.size, 2 * READINGS);
    const ctx = await context();
    try {
      const page = await ctx.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.goto(`http://127.0.0.1:${gw.httpPort}/portal/meter?id=meter-0001`);
      await page.waitForSelector('main[data-loaded="true"]', { timeout: 60_000 });
      // Every row is a checked sealed reading, those signed by the rotated key as well.
      await page.waitForFunction((n) => document.querySelectorAll('tr[data-state="sealed"]').length === n, 2 * READINGS, { timeout: 60_000 });
      await page.setInputFiles('#recipient-key', dataPaths(dir).recipientKey('owner-0001'));
      await page.waitForFunction(() => /Opened|Refused/.test(document.getElementById('sealed-state')?.textContent ?? ''), undefined, { timeout: 30_000 });
      assert.match((await page.textContent('#sealed-state'))!, /Opened .* 2 period keys/, 'both period keys, the later one signed by the rotated key, verify');
      await page.waitForFunction((n) => document.querySelectorAll('tr[data-state="opened"]').length === n, 2 * READINGS, { timeout: 30_000 });
      const opened = await page.$$eval('tr[data-state="opened"]', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      for (const c of opened) assert.equal(c[2], kWh(want.get(c[0]!)!), `seq ${c[0]} opens to what reading decrypt prints`);
      await page.screenshot({ path: join(ARTIFACTS, 'portal-sealed-rotated.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
});
