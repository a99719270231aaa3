/**
 * README's first command on a fresh data dir (`start --data-dir D`, free ports): the dev
 * chain's first start opens the owner account and prints the enrol address with a
 * one-time code; readings simulated over MQTT; in Chromium the new user opens the printed
 * address, enrols with the printed code and sees the meter's readings verified in the page,
 * all within a minute of the start. The enrolment opened the account with the browser's
 * key: after it a restart prints no code.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../helpers/browser.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { until } from '../../helpers/until.js';

declare const document: { querySelectorAll(s: string): { length: number }; getElementById(id: string): { textContent: string | null } | null };

const ENROL_LINE = /^enrol: (http:\/\/127\.0\.0\.1:\d+\/portal\/enrol\?account=owner-1) {2}code: ([0-9A-Z-]+)$/m;

describe('first run: README\'s first command, an enrolment code on stdout, verified readings in a minute', { timeout: 180_000 }, () => {
  let root: string;
  let gw: GatewayProcess;
  let browser: Browser;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'meterledger-first-run-'));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('start, read the code, simulate, enrol in the browser, see the readings verified', async () => {
    const t0 = Date.now();
    gw = await GatewayProcess.create(join(root, 'data'));
    await gw.start(30_000);
    // The banner ends with the portal's address; the enrol line comes before it.
    await until('the start banner on stdout', () => /^ {2}portal /m.test(gw.stdout), 10_000, 50);
    const m = ENROL_LINE.exec(gw.stdout);
    assert.ok(m, `no enrol line on stdout:\n${gw.stdout}`);
    const [, url, code] = m;
    assert.equal(new URL(url!).port, String(gw.httpPort));
    const sim = await cli(['simulate', '--data-dir', gw.dataDir, '--mqtt', gw.mqttUrl, '--readings', '20', '--json'], { timeoutMs: 50_000 });
    assert.equal(sim.code, 0, sim.stderr);

    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, timezoneId: 'UTC', locale: 'en-GB' });
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(`${gw.httpUrl}/`)) problems.push(`outside request: ${r.url()}`);
    });
    await page.goto(url!);
    await page.waitForSelector('#enrol');
    assert.equal(await page.inputValue('#enrol-account'), 'owner-1', 'the account comes from the printed link');
    await page.fill('#enrol-code', code!);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${gw.httpUrl}/portal/`, { timeout: 30_000 });
    await page.waitForSelector('.meter-list', { timeout: 20_000 });
    assert.match((await page.textContent('.meter-list'))!, /meter-0001/);
    await page.click('a[href*="meter-0001"]');
    await page.waitForSelector('main[data-loaded="true"]', { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelectorAll('tr[data-state="checking"]').length === 0 && /verified/.test(document.getElementById('checked')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const checked = (await page.textContent('#checked'))!;
    assert.match(checked, /^[1-9]\d* verified$/, checked);
    assert.equal(await page.locator('tr[data-state="failed"]').count(), 0);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 60_000, `from start to verified readings took ${elapsed} ms`);
    assert.deepEqual(problems, []);
    await ctx.close();
  });

  test('after enrolment a restart prints no code: the account key is the browser\'s', async () => {
    await gw.stop();
    await gw.start(30_000);
    await until('the start banner on stdout', () => /^ {2}portal /m.test(gw.stdout), 10_000, 50);
    assert.doesNotMatch(gw.stdout, /^enrol:/m, gw.stdout);
    const r = await fetch(`${gw.httpUrl}/api/v1/enrol`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ account: 'owner-1', code: 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG', publicKey: '02' + '11'.repeat(32) }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.notEqual(r.status, 200);
    // The first enrolment opened the account with the browser's P-256 key.
    const a = await fetch(`${gw.httpUrl}/api/v1/accounts/owner-1`, { headers: { authorization: `Bearer ${gw.adminToken}` }, signal: AbortSignal.timeout(10_000) });
    assert.equal(a.status, 200);
    const acct = await a.json() as { alg: string; keyEpoch: number };
    assert.equal(acct.alg, 'ES256');
    assert.equal(acct.keyEpoch, 0);
  });
});
