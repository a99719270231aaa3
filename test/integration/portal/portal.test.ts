/**
 * The portal in a real browser (Debian's Chromium via playwright-core) against a real
 * gateway process with meters publishing over real MQTT: verified readings and the usage
 * chart, a receipt altered by a man in the middle shown as failed, the live feed resuming
 * after a dropped connection with nothing missed, the operator's fleet page, axe-core,
 * keyboard use, and screenshots at phone and desktop sizes in test-artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { parseGenesis } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { launchChromium } from '../../helpers/browser.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { type HttpMitm, flipHexByte, startHttpMitm } from '../../helpers/http-mitm.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { type TcpProxy, startTcpProxy } from '../../helpers/tcp-proxy.js';
import { until } from '../../helpers/until.js';

// Callbacks below run in the page, where these exist; the test itself is compiled without DOM types.
declare const document: { querySelectorAll(s: string): { length: number }; querySelector(s: string): { textContent: string | null } | null; getElementById(id: string): { textContent: string | null } | null; activeElement: { id: string; textContent: string | null } | null; documentElement: { scrollWidth: number } };
declare const localStorage: { setItem(k: string, v: string): void };
declare function getComputedStyle(e: unknown): { outlineStyle: string };

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));
const ADMIN_TOKEN = 'portal-test-admin-token';
const QUARTER_HOUR = 15 * 60_000;
/** Readings of meter-0001, one per 15 minutes ending now: about 30 hours. */
const N = 120;
/** The import register of meter-0001 goes down here (meter replaced, docs/billing.md §6.3). */
const RESET_AT = 70;
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } } as const;

/** meter-0001's registers: 40..79 Wh per quarter hour, export on every third, a drop at RESET_AT. */
function register(i: number): { importWh: number; exportWh: number } {
  let imp = 0;
  let exp = 0;
  for (let k = 1; k <= i; k++) {
    imp = k === RESET_AT ? 5 : imp + 40 + ((k * 7) % 40);
    if (k % 3 === 0) exp += 25;
  }
  return { importWh: imp, exportWh: exp };
}

describe('portal in Chromium against a real gateway', { timeout: 300_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  let browser: Browser;
  let meters: Map<string, TestMeter>;
  const start = Date.now() - N * QUARTER_HOUR;
  const port = (): number => gw.httpPort;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-portal-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '3']);
    assert.equal(init.code, 0, init.stderr);
    const cfg = join(dir, 'test-config.json');
    writeFileSync(cfg, JSON.stringify({ ledger: { blockIntervalMs: 200 }, http: { adminToken: ADMIN_TOKEN } }), { mode: 0o600 });
    gw = await GatewayProcess.create(dir, ['--config', cfg]);
    await gw.start();
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    meters = new Map();
    for (const id of ['meter-0001', 'meter-0002']) meters.set(id, await TestMeter.connect(gw.mqttUrl, genesis, id, loadKeyFile(dataPaths(dir).meterKey(id))));
    const m1 = meters.get('meter-0001')!;
    for (let i = 1; i <= N; i++) await m1.publish(BigInt(i), { ...register(i), time: start + i * QUARTER_HOUR });
    await until('meter-0001 readings committed', () => m1.committedSeqs().size === N, 60_000);
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    for (const m of meters?.values() ?? []) await m.close();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A page with CSP violations and page errors collected. */
  async function open(ctx: BrowserContext, url: string): Promise<{ page: Page; problems: string[] }> {
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    // no CDN, nothing outside: every request goes to the page's own origin
    const origin = new URL(url).origin;
    page.on('request', (r) => {
      if (!r.url().startsWith(`${origin}/`) && !r.url().startsWith('data:')) problems.push(`outside request: ${r.url()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.goto(url);
    return { page, problems };
  }

  /** A browser context, signed in with the operator token unless `signedIn` is false (as after the sign-in form). */
  async function context(viewport: { width: number; height: number } = VIEWPORTS.desktop, signedIn = true): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport, timezoneId: 'UTC', locale: 'en-GB' });
    if (signedIn) await ctx.addInitScript({ content: `sessionStorage.setItem('meterledger.accessToken', ${JSON.stringify(ADMIN_TOKEN)});` });
    return ctx;
  }

  async function meterLoaded(page: Page): Promise<void> {
    await page.waitForSelector('main[data-loaded="true"]', { timeout: 60_000 });
    await page.waitForFunction(() => document.querySelectorAll('tr[data-state="checking"]').length === 0 && /verified/.test(document.getElementById('checked')?.textContent ?? ''), undefined, { timeout: 60_000 });
  }

  test('the meter page shows verified readings, the last one, and usage charts from register deltas', async () => {
    const ctx = await context();
    const { page, problems } = await open(ctx, `http://127.0.0.1:${port()}/portal/meter?id=meter-0001`);
    await meterLoaded(page);
    assert.equal(await page.textContent('#checked'), `${N} verified`);
    assert.equal(await page.locator('tr[data-state="failed"]').count(), 0);
    assert.match((await page.textContent('#latest-import'))!, new RegExp(`${(register(N).importWh / 1000).toFixed(3)} kWh`));
    assert.match((await page.textContent('#last-seen'))!, new RegExp(`seq ${N}`));
    assert.ok(await page.locator('#chart canvas').count() > 0, 'uPlot drew a canvas');
    assert.match((await page.textContent('#resets'))!, new RegExp(`import between seq ${RESET_AT - 1} and ${RESET_AT}`));
    // The figures add up to the continued register's delta: the drop at RESET_AT counts 0,
    // and no bucket shows a lifetime register value.
    const expectImport = register(N).importWh + register(RESET_AT - 1).importWh - register(RESET_AT).importWh - register(1).importWh;
    for (const unit of ['hour', 'day', 'month'] as const) {
      await page.check(`#unit-${unit}`);
      await page.waitForFunction((u) => document.querySelector('#figures caption')?.textContent === `kWh per ${u}`, unit);
      const cells = await page.$$eval('#figures tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      const sum = (col: number): number => Math.round(cells.reduce((s, c) => s + Number(c[col]!.replace(/,/g, '')) * 1000, 0));
      if (unit !== 'hour') assert.equal(sum(1), expectImport, `${unit}: import buckets sum to the register delta`);
      if (unit !== 'hour') assert.equal(sum(2), register(N).exportWh - register(1).exportWh, `${unit}: export buckets sum to the export delta`);
      if (unit === 'hour') {
        // 48 hourly buckets at most; four quarter-hours of at most 79 Wh each: no bucket
        // may hold a register value (kWh in the thousands would), even across the reset
        assert.ok(cells.length >= 30 && cells.length <= 48, `${cells.length} hours`);
        const max = Math.max(...cells.map((c) => Number(c[1]!.replace(/,/g, ''))));
        assert.ok(max <= 0.4, `hour: no bucket holds a cumulative value (max ${max} kWh)`);
      }
    }
    assert.deepEqual(problems, []);
    await ctx.close();
  });

  test('a receipt altered by a man in the middle shows FAILED, never verified', async () => {
    const ALTERED = 5n;
    const mitm: HttpMitm = await startHttpMitm(port(), (path, body) => {
      if (path !== `/api/v1/meters/meter-0001/receipts/${ALTERED}`) return undefined;
      const r = body as { cbor: string; tx: string };
      const at = r.cbor.indexOf(r.tx) / 2 + r.tx.length / 2 - 1; // last byte of the signed reading (its signature)
      return { ...r, cbor: flipHexByte(r.cbor, at) };
    });
    try {
      const ctx = await context();
      const { page } = await open(ctx, `${mitm.url}/portal/meter?id=meter-0001`);
      await meterLoaded(page);
      assert.ok(mitm.rewritten.length > 0, 'the proxy altered the receipt');
      assert.equal(await page.textContent('#checked'), `${N - 1} verified, 1 FAILED`);
      // only the latest 50 rows are in the table; open the altered one's receipt page
      const r = await open(ctx, `${mitm.url}/portal/receipt?meter=meter-0001&seq=${ALTERED}`);
      await r.page.waitForSelector('#result-h .badge');
      assert.equal(await r.page.textContent('#result-h .badge'), 'FAILED');
      assert.equal(await r.page.getAttribute('li[data-check="Merkle proof"]', 'data-ok'), 'false');
      assert.equal(await r.page.getAttribute('li[data-check="meter signature"]', 'data-ok'), 'false');
      assert.equal(await r.page.locator('text=The reading\'s figures are not shown').count(), 1);
      // the same receipt straight from the gateway verifies
      const ok = await open(ctx, `http://127.0.0.1:${port()}/portal/receipt?meter=meter-0001&seq=${ALTERED}`);
      await ok.page.waitForSelector('#result-h .badge');
      assert.equal(await ok.page.textContent('#result-h .badge'), 'verified');
      assert.equal(await ok.page.locator('li[data-ok="false"]').count(), 0);
      await ctx.close();
    } finally {
      await mitm.close();
    }
  });

  test('a pinned genesis refuses a gateway that serves another one', async () => {
    const mitm = await startHttpMitm(port(), (path, body) => (path === '/api/v1/genesis' ? { ...(body as object), genesisTime: '2020-01-01T00:00:00Z' } : undefined));
    try {
      const ctx = await context();
      const honest = await open(ctx, `http://127.0.0.1:${port()}/portal/`);
      const hash = await honest.page.textContent('#genesis-hash');
      await honest.page.click('summary');
      await honest.page.click('text=Pin this hash');
      await honest.page.waitForSelector('.trust .badge.verified');
      assert.equal(await honest.page.textContent('#genesis-hash'), hash);
      // localStorage is per origin: pin the same hash on the proxy's origin, as a user would
      const { page } = await open(ctx, `${mitm.url}/portal/`);
      await page.evaluate((h) => localStorage.setItem('meterledger.pinnedGenesis', h!), hash);
      await page.goto(`${mitm.url}/portal/receipt?meter=meter-0001&seq=1`);
      await page.waitForSelector('#result-h .badge');
      assert.equal(await page.textContent('#result-h .badge'), 'FAILED');
      assert.match((await page.textContent('.trust'))!, /FAILED/);
      assert.equal(await page.getAttribute('li[data-check="trusted genesis"]', 'data-ok'), 'false');
      await ctx.close();
    } finally {
      await mitm.close();
    }
  });

  test('live: new receipts appear within two seconds; a dropped connection resumes with nothing missed', async () => {
    const proxy: TcpProxy = await startTcpProxy(port());
    const m2 = meters.get('meter-0002')!;
    try {
      const ctx = await context();
      const { page, problems } = await open(ctx, `http://127.0.0.1:${proxy.port}/portal/meter?id=meter-0002`);
      await page.waitForSelector('main[data-loaded="true"]');
      await page.waitForFunction(() => /connected/.test(document.getElementById('live-state')?.textContent ?? ''));
      const visible = (seq: number) => page.waitForSelector(`tr[data-seq="${seq}"][data-state="verified"]`, { timeout: 30_000 });
      const latencies: number[] = [];
      for (let seq = 1; seq <= 3; seq++) {
        await m2.publish(BigInt(seq), { importWh: seq * 100 });
        await until(`meter-0002 seq ${seq} committed`, () => m2.committedSeqs().has(BigInt(seq)), 30_000, 20);
        const committed = Date.now();
        await visible(seq);
        latencies.push(Date.now() - committed);
      }
      for (const l of latencies) assert.ok(l < 2000, `shown ${l} ms after the commit`);
      // Drop every connection of the browser and keep it out while readings commit.
      proxy.cut();
      await page.waitForFunction(() => /reconnecting/.test(document.getElementById('live-state')?.textContent ?? ''));
      for (let seq = 4; seq <= 9; seq++) await m2.publish(BigInt(seq), { importWh: seq * 100 });
      await until('meter-0002 seqs 4..9 committed', () => m2.committedSeqs().size >= 9, 30_000);
      proxy.heal();
      for (let seq = 4; seq <= 9; seq++) await visible(seq);
      await m2.publish(10n, { importWh: 1000 });
      await visible(10);
      const seqs = await page.$$eval('tr[data-seq]', (trs) => trs.map((t) => Number(t.getAttribute('data-seq'))));
      assert.deepEqual(seqs.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'each reading once, none missed');
      assert.equal(await page.textContent('#checked'), '10 verified');
      assert.deepEqual(problems.filter((p) => !/ERR_CONNECTION|net::|EventSource/.test(p)), []);
      process.stdout.write(`# live: receipt shown ${latencies.join(', ')} ms after its commit\n`);
      await ctx.close();
    } finally {
      await proxy.close();
    }
  });

  test('the event stream replays what was missed from Last-Event-ID, in order', async () => {
    const url = `http://127.0.0.1:${port()}/api/v1/events?meter=meter-0001`;
    const ac = new AbortController();
    assert.equal((await fetch(url)).status, 401, 'no stream without a token');
    const r = await fetch(url, { headers: { 'last-event-id': String(N - 4), authorization: `Bearer ${ADMIN_TOKEN}` }, signal: ac.signal });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/event-stream/);
    const reader = r.body!.getReader();
    let text = '';
    while ((text.match(/^id: /gm) ?? []).length < 4) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    assert.deepEqual([...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])), [N - 3, N - 2, N - 1, N]);
    const bad = await fetch(`http://127.0.0.1:${port()}/api/v1/events?meter=nope`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(bad.status, 404);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'E_METER_NOT_FOUND');
  });

  test('meters\' data needs a token: the sign-in form, a refused token named with its code, then the verified meter page', async () => {
    const ctx = await context(VIEWPORTS.desktop, false);
    const { page, problems } = await open(ctx, `http://127.0.0.1:${port()}/portal/meter?id=meter-0001`);
    await page.waitForSelector('#sign-in');
    assert.equal(await page.$('#readings'), null, 'nothing of the meter before sign-in');
    // The default is the browser key's sign-in (portal-enrol.test.ts); the token form is the operators'.
    await page.click('#operator-sign-in summary');
    await page.fill('#access-token', 'not-a-token-of-this-gateway');
    await page.press('#access-token', 'Enter');
    await page.waitForSelector('#sign-in-error');
    assert.match((await page.textContent('main'))!, /Refused: .*\((E_HTTP_FORBIDDEN|E_SESSION_INVALID|E_HTTP_UNAUTHORIZED)\)/);
    await page.fill('#access-token', ADMIN_TOKEN);
    await page.press('#access-token', 'Enter');
    await meterLoaded(page);
    assert.ok(await page.$('#sign-out'), 'a sign-out button once signed in');
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in');
    assert.deepEqual(problems.filter((p) => !/40[13]/.test(p)), []);
    await ctx.close();
  });

  test('the fleet page needs the operator token and shows meters and rejects by reason', async () => {
    const m1 = meters.get('meter-0001')!;
    await m1.publish(3n, { importWh: 1 }); // a replay: refused with E_READING_SEQ_REPLAY
    const ctx = await context();
    const { page } = await open(ctx, `http://127.0.0.1:${port()}/portal/fleet`);
    await page.fill('#op-token', 'wrong-token');
    await page.press('#op-token', 'Enter');
    await page.waitForSelector('#fleet [role="alert"]');
    assert.match((await page.textContent('#fleet'))!, /E_HTTP_FORBIDDEN/);
    await page.fill('#op-token', ADMIN_TOKEN);
    await page.press('#op-token', 'Enter');
    await page.waitForSelector('#meters');
    assert.match((await page.textContent('#rejects'))!, /E_READING_SEQ_REPLAY/);
    // Every dev chain has a currency (its owner account is opened by enrolment) but no bills: none due.
    assert.match((await page.textContent('#unpaid-bills'))!, /None: every committed bill is paid\./, 'a dev chain without bills lists none due');
    const row = await page.textContent('#meters tbody tr:first-child');
    assert.match(row!, new RegExp(`meter-0001${N}`));
    await ctx.close();
  });

  test('the fleet page at 375 px: a 20-digit last seq stays on one line, the meters table scrolls in its box, not the page', async () => {
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    const m3 = await TestMeter.connect(gw.mqttUrl, genesis, 'meter-0003', loadKeyFile(dataPaths(dir).meterKey('meter-0003')));
    meters.set('meter-0003', m3);
    const LONG_SEQ = 2n ** 64n - 1n; // MAX_SEQ: the longest a seq can be written
    await m3.publish(LONG_SEQ, { importWh: 1 });
    await until('meter-0003 at the longest seq committed', () => m3.committedSeqs().has(LONG_SEQ), 30_000);
    const viewport = { width: 375, height: 812 };
    const ctx = await context(viewport);
    const { page, problems } = await open(ctx, `http://127.0.0.1:${port()}/portal/fleet`);
    await page.fill('#op-token', ADMIN_TOKEN);
    await page.press('#op-token', 'Enter');
    const SEQ_CELL = '#meters tbody tr:has(a[href$="meter-0003"]) td:nth-child(2)';
    await page.waitForSelector(SEQ_CELL);
    // One line box per line the text takes: a Range over the cell's text has one client rect when it does not wrap.
    const cell = await page.evaluate((sel) => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string }; createRange(): { selectNodeContents(n: unknown): void; getClientRects(): { length: number } } } }).document;
      const td = doc.querySelector(sel);
      const range = doc.createRange();
      range.selectNodeContents(td);
      return { text: td.textContent, lines: range.getClientRects().length };
    }, SEQ_CELL);
    assert.equal(cell.text, LONG_SEQ.toString());
    assert.equal(cell.lines, 1, 'the seq is one line box, not broken over lines');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= viewport.width, `no horizontal scrolling of the page (${width} px)`);
    await page.screenshot({ path: join(ARTIFACTS, 'portal-fleet-375.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await ctx.close();
  });

  test('keyboard: skip link, then the form, open a meter without a mouse', async () => {
    const ctx = await context();
    const { page } = await open(ctx, `http://127.0.0.1:${port()}/portal/`);
    await page.waitForSelector('.meter-list');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'meter-id');
    await page.keyboard.type('meter-0001');
    await Promise.all([page.waitForURL(/\/portal\/meter\?id=meter-0001$/), page.keyboard.press('Enter')]);
    await meterLoaded(page);
    // every interactive element shows a focus ring
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    assert.notEqual(outline, 'none');
    await ctx.close();
  });

  const PAGES = {
    home: '/portal/',
    meter: '/portal/meter?id=meter-0001',
    receipt: '/portal/receipt?meter=meter-0001&seq=7',
    fleet: '/portal/fleet',
  } as const;

  test('axe-core finds no serious or critical violations; screenshots at phone and desktop sizes', async () => {
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    for (const [size, viewport] of Object.entries(VIEWPORTS)) {
      const ctx = await context(viewport);
      for (const [name, path] of Object.entries(PAGES)) {
        const { page, problems } = await open(ctx, `http://127.0.0.1:${port()}${path}`);
        if (name === 'meter') await meterLoaded(page);
        if (name === 'receipt') await page.waitForSelector('#result-h .badge');
        if (name === 'home') await page.waitForSelector('.meter-list');
        if (name === 'fleet') {
          await page.fill('#op-token', ADMIN_TOKEN);
          await page.press('#op-token', 'Enter');
          await page.waitForSelector('#meters');
        }
        await page.screenshot({ path: join(ARTIFACTS, `portal-${name}-${size}.png`) });
        await page.screenshot({ path: join(ARTIFACTS, `portal-${name}-${size}-full.png`), fullPage: true });
        await page.evaluate(axe); // through the debugger protocol: the page's CSP forbids inline script, rightly
        const result = await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run());
        const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `${name} at ${size}`);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= viewport.width, `${name} at ${size}: no horizontal scrolling (${width} px)`);
        assert.deepEqual(problems, [], `${name} at ${size}`);
        await page.close();
      }
      await ctx.close();
    }
  });

  test('the portal is served with a strict CSP, content types and caching by hash', async () => {
    const page = await fetch(`http://127.0.0.1:${port()}/portal/meter?id=meter-0001`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)/, 'no inline script');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from outside');
    const again = await fetch(`http://127.0.0.1:${port()}/portal/`, { headers: { 'if-none-match': page.headers.get('etag')! } });
    assert.equal(again.status, 304);
    const assets = [...html.matchAll(/\/portal\/assets\/([^"]+)/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => /^portal\.[0-9a-f]{16}\.js$/.test(a)) && assets.some((a) => /\.css$/.test(a)), assets.join(' '));
    for (const a of assets) {
      const r = await fetch(`http://127.0.0.1:${port()}/portal/assets/${a}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(r.headers.get('content-type'), a.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    }
    assert.equal((await fetch(`http://127.0.0.1:${port()}/portal/assets/nope.js`)).status, 404);
  });
});
