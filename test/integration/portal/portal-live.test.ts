/**
 * The portal's verification of what genesis does not hold, in Chromium against a real
 * gateway: a meter registered after genesis with `meterledger meter register` (its key
 * from the registration's own verified receipt), the header chain cached in IndexedDB (a
 * second check fetches only the headers above the cached tip) and a header served
 * differently after caching failing as a fork.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { decodeReceipt, encodeReceipt, fromHex, parseGenesis, toHex } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { launchChromium } from '../../helpers/browser.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { type HttpMitm, startHttpMitm } from '../../helpers/http-mitm.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { until } from '../../helpers/until.js';

const ADMIN_TOKEN = 'portal-live-admin-token';
const NEW = 'meter-late';

describe('portal: post-genesis meters and the header cache', { timeout: 240_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  let browser: Browser;
  let meter: TestMeter;
  let mitm: HttpMitm;
  /** Seq whose receipt the proxy forges (its header's time), once set. */
  let forge: number | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-portal-live-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '1']);
    assert.equal(init.code, 0, init.stderr);
    const cfg = join(dir, 'test-config.json');
    writeFileSync(cfg, JSON.stringify({ ledger: { blockIntervalMs: 200 }, http: { adminToken: ADMIN_TOKEN } }), { mode: 0o600 });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, ADMIN_TOKEN, { mode: 0o600 });
    gw = await GatewayProcess.create(dir, ['--config', cfg]);
    await gw.start();
    const url = `http://127.0.0.1:${gw.httpPort}`;
    const reg = await cli(['meter', 'register', '--data-dir', dir, '--meter', NEW, '--http', url, '--admin-token-file', tokenFile]);
    assert.equal(reg.code, 0, reg.stderr);
    await until('the registration committed', async () => (await fetch(`${url}/api/v1/meters/${NEW}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status === 200, 30_000);
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    assert.equal(genesis.meters.some((m) => m.id === NEW), false, 'the meter is not in genesis');
    meter = await TestMeter.connect(gw.mqttUrl, genesis, NEW, loadKeyFile(dataPaths(dir).meterKey(NEW)));
    for (let i = 1; i <= 3; i++) await meter.publish(BigInt(i), { importWh: 100 * i });
    await until('readings committed', () => meter.committedSeqs().size === 3, 30_000);
    mitm = await startHttpMitm(gw.httpPort, (path, body) => {
      if (forge === undefined || !path.startsWith(`/api/v1/meters/${NEW}/receipts/${forge}`)) return undefined;
      const j = body as { cbor: string };
      const r = decodeReceipt(fromHex(j.cbor));
      return { ...j, cbor: toHex(encodeReceipt({ ...r, header: { ...r.header, time: r.header.time + 1 } })) };
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await mitm?.close();
    await meter?.close();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('readings of a meter registered after genesis verify in the page; headers are cached and a forged one fails as a fork', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addInitScript({ content: `sessionStorage.setItem('meterledger.accessToken', ${JSON.stringify(ADMIN_TOKEN)});` });
    const check = async (seq: number): Promise<{ badge: string; headers: number; checks: Record<string, string> }> => {
      const page = await ctx.newPage();
      let headers = 0;
      page.on('request', (r) => {
        const u = new URL(r.url());
        if (u.pathname === '/api/v1/blocks') headers += Number(u.searchParams.get('limit'));
      });
      await page.goto(`${mitm.url}/portal/receipt?meter=${NEW}&seq=${seq}`);
      await page.waitForSelector('#result-h .badge', { timeout: 60_000 });
      const badge = (await page.textContent('#result-h .badge'))!;
      const checks = Object.fromEntries(await page.$$eval('li[data-check]', (ls) => ls.map((l) => [l.getAttribute('data-check')!, `${l.getAttribute('data-ok')} ${l.textContent ?? ''}`])));
      await page.close();
      return { badge, headers, checks };
    };
    const first = await check(1);
    assert.equal(first.badge, 'verified', JSON.stringify(first.checks));
    assert.match(first.checks['meter signature']!, /^true .*key of epoch 0 \(committed at block \d+\)/);
    assert.ok(first.headers > 0);
    // the height grows meanwhile; the second check fetches only what is above the cached tip
    const second = await check(3);
    assert.equal(second.badge, 'verified', JSON.stringify(second.checks));
    assert.ok(second.headers < first.headers, `second check fetched ${second.headers} headers, the first ${first.headers}`);
    assert.match(second.checks['hash chain to genesis']!, /^true /);
    // a header served differently from the cached one: a fork, loudly
    forge = 2;
    const forged = await check(2);
    assert.equal(forged.badge, 'FAILED');
    assert.match(forged.checks['hash chain to genesis']!, /^false .*fork: block \d+ is not the block this browser verified/);
    forge = undefined;
    assert.equal((await check(2)).badge, 'verified', 'the cache kept the honest header');
    await ctx.close();
  });
});
