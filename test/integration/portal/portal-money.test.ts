/**
 * The portal's money pages in Chromium (playwright-core) against a real gateway process on
 * a dev chain made with `init --billing` (a cycle of a few seconds, autoIssue on) and
 * mqtt.js meters that pay their bills with the simulator's paying code: the bills page
 * recomputes each bill in the browser ("match"), a bill bundle altered by a man in the
 * middle shows FAILED, a payment appears live without a reload, the CSV downloads hold
 * the right rows, and an owner is refused another account's bills by the gateway.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type PaymentMessage, decodeReceipt, fromHex, parseGenesis, toHex } from '../../../protocols/index.js';
import { DEV_BILLING_PLAN_FILE, type DevBillingPlan } from '../../../ledger-node/billing/dev-setup.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { newTally } from '../../../gateway/sim/pay.js';
import { launchChromium } from '../../helpers/browser.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { type HttpMitm, flipHexByte, startHttpMitm } from '../../helpers/http-mitm.js';
import { ownerSession } from '../../helpers/owner-session.js';
import { type PayingMeter, payingMeter, reportEvery } from '../../helpers/paying-meters.js';
import { until } from '../../helpers/until.js';

declare const document: { querySelectorAll(s: string): { length: number } & Iterable<{ textContent: string | null; getAttribute(a: string): string | null }>; querySelector(s: string): { textContent: string | null } | null };

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));
const ADMIN = 'portal-money-admin-token';
const CYCLE_S = 4;
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } } as const;

describe('portal money pages in Chromium against a real gateway with paying meters', { timeout: 300_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  let browser: Browser;
  let ticker: NodeJS.Timeout | undefined;
  let ownToken: string;
  const meters: PayingMeter[] = [];
  const tally = newTally();
  const seen = new Set<string>();
  /** Meters that stop paying the bills they are sent (the fleet test's unpaid bill). */
  const holdPay = new Set<string>();
  const url = (p: string): string => `${gw.httpUrl}${p}`;

  async function api(path: string, token?: string): Promise<{ status: number; body: any }> {
    const r = await fetch(url(path), { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
    return { status: r.status, body: await r.json() };
  }

  type Paid = Extract<PaymentMessage, { status: 'paid' }>;
  const paid = (id: string): Paid[] => meters.find((m) => m.id === id)!.messages.filter((x): x is Paid => x.kind === 'payment' && x.status === 'paid');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-portal-money-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '2', '--billing', '--cycle-s', String(CYCLE_S)]);
    assert.equal(init.code, 0, init.stderr);
    const config = join(dir, 'test-config.json');
    writeFileSync(config, JSON.stringify({
      ledger: { blockIntervalMs: 200 }, http: { adminToken: ADMIN },
      billing: { autoIssue: { keyFile: 'keys/operator.key', payee: 'superenergy', retryMinMs: 300, retryMaxMs: 2000 } },
    }), { mode: 0o600 });
    gw = await GatewayProcess.create(dir, ['--config', config]);
    await gw.start();
    const g = parseGenesis(JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')));
    for (const id of ['meter-0001', 'meter-0002']) {
      meters.push(await payingMeter(gw.mqttUrl, g.chainId, id, loadKeyFile(dataPaths(dir).meterKey(id)), { tally, seen, hold: holdPay }));
    }
    ticker = reportEvery(g.chainId, meters, 400);
    await until('each meter paid a bill', () => paid('meter-0001').length >= 1 && paid('meter-0002').length >= 1, 120_000);
    const plan = JSON.parse(readFileSync(join(dir, DEV_BILLING_PLAN_FILE), 'utf8')) as DevBillingPlan;
    ownToken = await ownerSession(gw.httpUrl, 'owner-0001', join(dir, plan.accountKeys['owner-0001']!));
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });

  after(async () => {
    clearInterval(ticker);
    await browser?.close();
    await Promise.all(meters.map((m) => m.client.endAsync(true).catch(() => {})));
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function context(viewport: { width: number; height: number } = VIEWPORTS.desktop, token = ownToken): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport, timezoneId: 'UTC', locale: 'en-GB', acceptDownloads: true });
    await ctx.addInitScript({ content: `sessionStorage.setItem('meterledger.accessToken', ${JSON.stringify(token)});` });
    return ctx;
  }

  async function open(ctx: BrowserContext, u: string): Promise<{ page: Page; problems: string[] }> {
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.goto(u);
    return { page, problems };
  }

  /** Every bill on the page checked (none "checking"). */
  const settled = (page: Page): Promise<unknown> => page.waitForFunction(() => document.querySelectorAll('article.bill').length > 0 && document.querySelectorAll('article.bill[data-state="checking"]').length === 0, undefined, { timeout: 60_000 });

  test('the bills page recomputes each of the owner\'s bills in the browser: match, line items, status paid at a height', async () => {
    const ctx = await context();
    const { page, problems } = await open(ctx, url('/portal/bills'));
    await page.waitForSelector('main[data-loaded="true"]', { timeout: 60_000 });
    await settled(page);
    const states = await page.$$eval('article.bill', (as) => as.map((a) => ({ key: a.getAttribute('data-bill'), state: a.getAttribute('data-state'), status: a.querySelector('.status')?.textContent ?? '' })));
    assert.ok(states.length >= 1);
    for (const s of states) {
      assert.equal(s.state, 'match', `${s.key}: ${JSON.stringify(s)}`);
      assert.match(s.key!, /^meter-0001\/cycle-\d+$/, 'only the owner\'s meter\'s bills');
    }
    const p = paid('meter-0001')[0]!;
    const key = `meter-0001/${p.period}`;
    assert.match(states.find((s) => s.key === key)?.status ?? '', new RegExp(`^paid at height ${p.height} \\(by meter\\)`));
    // Line items and a total in euros formatted from minor units, the same as the API's total.
    const { body } = await api(`/api/v1/bills/${key}`, ownToken);
    const total = await page.textContent(`article[data-bill="${key}"] td[data-total]`);
    const minor = BigInt(body.total);
    assert.equal(total, `EUR ${minor / 100n}.${String(minor % 100n).padStart(2, '0')}`);
    assert.ok(await page.locator(`article[data-bill="${key}"] table.lines tbody tr`).count() >= 2, 'standing charge and energy lines');
    assert.match((await page.textContent('#balance'))!, /^EUR -?[\d,]+\.\d\d$/);
    assert.deepEqual(problems, []);
    await ctx.close();
  });

  test('a bill bundle altered by a man in the middle shows FAILED, not match', async () => {
    let mitm: HttpMitm | undefined;
    try {
      mitm = await startHttpMitm(gw.httpPort, (path, body) => {
        if (/\/payments$/.test(path)) {
          const m = body as { transactions: { receipt: string }[] };
          return { ...m, transactions: m.transactions.map((t) => ({ ...t, receipt: flipHexByte(t.receipt, t.receipt.indexOf(toHex(decodeReceipt(fromHex(t.receipt)).tx)) / 2 + decodeReceipt(fromHex(t.receipt)).tx.length - 1) })) };
        }
        if (!/\/bundle$/.test(path)) return undefined;
        // One bit of the bill transaction's signature (its last byte): the receipt still
        // decodes, but the transaction is not the one the block commits nor the biller's.
        const b = body as { bill: string };
        const at = b.bill.indexOf(toHex(decodeReceipt(fromHex(b.bill)).tx)) / 2 + decodeReceipt(fromHex(b.bill)).tx.length - 1;
        return { ...b, bill: flipHexByte(b.bill, at) };
      });
      const ctx = await context();
      const { page } = await open(ctx, `${mitm.url}/portal/bills`);
      await settled(page);
      const states = await page.$$eval('article.bill', (as) => as.map((a) => a.getAttribute('data-state')));
      assert.ok(states.length >= 1 && states.every((s) => s === 'failed'), JSON.stringify(states));
      assert.ok(mitm.rewritten.length >= states.length);
      assert.match((await page.textContent('article.bill .recomputed'))!, /^FAILED E_BUNDLE_RECEIPT: bill: /);
      assert.equal(await page.locator('article.bill table.lines').count(), 0, 'no line items from an unverified bill');
      await page.screenshot({ path: join(ARTIFACTS, 'portal-bills-tampered-desktop.png') });
      // A payment receipt altered the same way shows FAILED on the payments page.
      const { page: pp } = await open(ctx, `${mitm.url}/portal/payments`);
      await pp.waitForSelector('main[data-loaded="true"]', { timeout: 60_000 });
      assert.ok(await pp.locator('table.money tr[data-state="failed"]').count() >= 1);
      assert.equal(await pp.locator('table.money tr[data-state="verified"]').count(), 0);
      await ctx.close();
    } finally {
      await mitm?.close();
    }
  });

  test('a new bill and its payment appear without a reload, within 2 s of the commit', async () => {
    const ctx = await context();
    const { page } = await open(ctx, url('/portal/bills'));
    await settled(page);
    await page.waitForSelector('#live-state:has-text("connected")');
    const before = paid('meter-0001').length;
    await until('meter-0001 pays another bill', () => paid('meter-0001').length > before, 60_000);
    const p = paid('meter-0001').at(-1)!;
    const at = Date.now();
    const key = `meter-0001/${p.period}`;
    await page.waitForFunction(({ k, h }) => {
      for (const a of document.querySelectorAll('article.bill')) {
        if (a.getAttribute('data-bill') === k) return a.getAttribute('data-state') === 'match' && new RegExp(`^paid at height ${h} `).test((a as unknown as { querySelector(s: string): { textContent: string | null } | null }).querySelector('.status')?.textContent ?? '');
      }
      return false;
    }, { k: key, h: p.height }, { timeout: 10_000 });
    const took = Date.now() - at;
    assert.ok(took < 2000, `the payment showed ${took} ms after the meter was told it was committed`);
    await ctx.close();
  });

  test('the payments page shows the balance, the deposit and each payment from its verified receipt; a new payment arrives live', async () => {
    const ctx = await context();
    const { page, problems } = await open(ctx, url('/portal/payments'));
    await page.waitForSelector('main[data-loaded="true"]', { timeout: 60_000 });
    const { body } = await api('/api/v1/accounts/owner-0001/payments', ownToken);
    assert.ok(body.transactions.some((t: { typeName: string }) => t.typeName === 'deposit'));
    await page.waitForFunction((n) => document.querySelectorAll('table.money tbody tr[data-state="verified"]').length >= n, body.transactions.length, { timeout: 30_000 });
    assert.equal(await page.locator('table.money tr[data-state="failed"]').count(), 0);
    assert.ok(await page.locator('tr[data-kind="deposit"]').count() >= 1);
    for (const p of paid('meter-0001')) {
      const row = page.locator(`tr[data-kind="payment"][data-bill="meter-0001/${p.period}"]`);
      assert.equal(await row.count(), 1, `payment of ${p.period}`);
      assert.match((await row.textContent())!, new RegExp(`EUR -${(Number(p.amount) / 100).toFixed(2).replace('.', '\\.')}`));
    }
    await page.waitForSelector('#live-state:has-text("connected")');
    const before = paid('meter-0001').length;
    await until('meter-0001 pays another bill', () => paid('meter-0001').length > before, 60_000);
    const p = paid('meter-0001').at(-1)!;
    const at = Date.now();
    await page.waitForSelector(`tr[data-kind="payment"][data-bill="meter-0001/${p.period}"][data-state="verified"]`, { timeout: 10_000 });
    const took = Date.now() - at;
    assert.ok(took < 2000, `the payment showed ${took} ms after the meter was told it was committed`);
    assert.deepEqual(problems, []);
    await page.screenshot({ path: join(ARTIFACTS, 'portal-payments-desktop.png'), fullPage: true });
    await ctx.close();
  });

  test('the account stream: a reconnect with Last-Event-ID below the head gets refetch, then live account events', async () => {
    const ac = new AbortController();
    const r = await fetch(url('/api/v1/accounts/owner-0001/events'), { headers: { authorization: `Bearer ${ownToken}`, 'last-event-id': '1' }, signal: ac.signal });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const deadline = Date.now() + 30_000;
    try {
      while (!/event: account\ndata: .*\n\n/.test(text) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
    } finally {
      ac.abort();
    }
    const refetch = /id: (\d+)\nevent: refetch\ndata: (.*)\n/.exec(text);
    assert.ok(refetch, text);
    assert.equal(JSON.parse(refetch[2]!).fromHeight, 2);
    const live = /id: (\d+)\nevent: account\ndata: (.*)\n/.exec(text);
    assert.ok(live, 'a live account event (the meters keep paying)');
    const e = JSON.parse(live[2]!);
    assert.equal(e.account, 'owner-0001');
    assert.equal(e.height, Number(live[1]));
    assert.ok(e.height > Number(refetch[1]), 'live events come after the refetch point');
    assert.ok([...e.bills, ...e.payments].every((b: string) => b.startsWith('meter-0001/')), 'only the account\'s bills');
  });

  test('the downloads hold the verified bills and readings, row for row', async () => {
    // The meters stop reporting, so both downloads see the same readings.
    clearInterval(ticker);
    const last = async (): Promise<string> => (await api('/api/v1/meters/meter-0001', ownToken)).body.lastSeq as string;
    let seqNow = await last();
    await until('meter-0001\'s last readings committed', async () => seqNow === (seqNow = await last()), 20_000, 1000);
    const ctx = await context();
    const { page } = await open(ctx, url('/portal/bills'));
    await settled(page);
    const shown = await page.$$eval('article.bill', (as) => as.map((a) => a.getAttribute('data-bill')!));
    const read = async (button: string): Promise<string> => {
      const [d] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click(button)]);
      return readFileSync((await d.path())!, 'utf8');
    };
    const bills = (await read('#download-bills')).trimEnd().split('\r\n').map((l) => l.split(','));
    assert.deepEqual(bills[0], ['meter_id', 'period', 'start_utc', 'end_utc', 'currency', 'item', 'band', 'tier', 'energy_wh', 'amount_minor', 'amount', 'bill_height', 'status']);
    const totals = bills.filter((r) => r[5] === 'total');
    assert.ok(totals.length >= shown.length, `${totals.length} totals for ${shown.length} bills shown`);
    for (const r of totals) {
      const { body } = await api(`/api/v1/bills/${r[0]}/${r[1]}`, ownToken);
      assert.equal(r[9], body.total, `${r[0]}/${r[1]}: total in minor units`);
      const lines = bills.filter((x) => x[0] === r[0] && x[1] === r[1] && x[5] !== 'total');
      assert.equal(lines.length, body.bill.lines.length);
      assert.equal(lines.reduce((s, x) => s + BigInt(x[9]!), 0n), BigInt(body.total), 'the lines add up to the total');
    }
    const readings = (await read('#download-readings')).trimEnd().split('\r\n').map((l) => l.split(','));
    assert.deepEqual(readings[0], ['meter_id', 'seq', 'time_utc', 'import_wh', 'export_wh', 'block_height', 'tx_hash']);
    assert.ok(readings.length > 10);
    const committed = new Map<string, any>();
    for (let next: string | null = '0'; next !== null;) {
      const { body } = await api(`/api/v1/meters/meter-0001/readings?fromSeq=${next}&limit=1000`, ownToken);
      for (const r of body.readings) committed.set(r.seq, r);
      next = body.nextFromSeq;
    }
    for (const r of readings.slice(1)) {
      assert.equal(r[0], 'meter-0001', 'only the owner\'s meter');
      const c = committed.get(r[1]!);
      assert.ok(c, `seq ${r[1]} is committed`);
      assert.equal(r[3], String(c.importWh));
      assert.equal(r[5], String(c.height));
      assert.equal(r[6], c.txHash);
    }
    const xml = await read('#download-usage');
    assert.match(xml, /<espi:IntervalBlock>/);
    const values = [...xml.matchAll(/<espi:value>(\d+)<\/espi:value>/g)].map((m) => Number(m[1]));
    assert.ok(values.length >= 1 && values.length <= readings.length - 2, 'at most one IntervalReading per pair of consecutive readings');
    const imports = readings.slice(1).map((r) => Number(r[3]));
    const delta = imports.at(-1)! - imports[0]!;
    const sum = values.reduce((a, b) => a + b, 0);
    // Whole seconds: readings after the last second boundary (100 Wh a second here) are not in an interval yet.
    assert.ok(sum <= delta && delta - sum < 200, `the deltas add up to the register delta (${sum} of ${delta} Wh)`);
    assert.ok(values.every((v) => v < 100_000), 'deltas, not register values');
    await ctx.close();
  });

  test('an owner cannot see another account\'s bills: the gateway refuses', async () => {
    const other = await api('/api/v1/accounts/owner-0002/bills', ownToken);
    assert.equal(other.status, 403);
    assert.equal(other.body.error.code, 'E_SESSION_NOT_YOURS');
    const theirs = (await api('/api/v1/accounts/owner-0002/bills', ADMIN)).body.bills as { meterId: string; period: string }[];
    assert.ok(theirs.length >= 1);
    for (const b of theirs) {
      for (const p of [`/api/v1/bills/${b.meterId}/${b.period}`, `/api/v1/bills/${b.meterId}/${b.period}/bundle`]) {
        const r = await api(p, ownToken);
        assert.equal(r.status, 403, p);
      }
    }
    const money = await api('/api/v1/accounts/owner-0002/payments', ownToken);
    assert.equal(money.status, 403);
    assert.equal(money.body.error.code, 'E_SESSION_NOT_YOURS');
    const ev = await fetch(url('/api/v1/accounts/owner-0002/events'), { headers: { authorization: `Bearer ${ownToken}` } });
    assert.equal(ev.status, 403);
    await ev.body?.cancel();
    // And the page shows the refusal, not the bills.
    const ctx = await context();
    const { page } = await open(ctx, url('/portal/bills?account=owner-0002'));
    await page.waitForSelector('#sign-in-error');
    assert.match((await page.textContent('#sign-in-error'))!, /E_SESSION_NOT_YOURS/);
    assert.equal(await page.locator('article.bill').count(), 0);
    await ctx.close();
  });

  test('axe-core finds no serious or critical violations on the bills and payments pages; screenshots at phone and desktop sizes', async () => {
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    for (const [size, viewport] of Object.entries(VIEWPORTS)) {
      const ctx = await context(viewport);
      for (const name of ['bills', 'payments']) {
        const { page } = await open(ctx, url(`/portal/${name}`));
        await page.waitForSelector('main[data-loaded="true"]', { timeout: 60_000 });
        if (name === 'bills') await settled(page);
        await page.evaluate(axe); // through the debugger protocol: the page's CSP forbids inline script
        const result = await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run());
        const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe: ${name} at ${size}`);
        const width = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
        assert.ok(width <= viewport.width + 1, `${name} ${size}: no horizontal scroll (${width} px)`);
        await page.screenshot({ path: join(ARTIFACTS, `portal-${name}-${size}.png`), fullPage: true });
      }
      await ctx.close();
    }
  });
  test('the fleet page lists a committed bill not paid, not the paid ones; axe-clean, fits a phone', async () => {
    holdPay.add('meter-0002'); // meter-0002 stops paying: its next bill stays unpaid
    // It reads on (the downloads test stopped the shared ticker), so a new period is billed.
    const m2 = meters.find((m) => m.id === 'meter-0002')!;
    const g2 = parseGenesis(JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')));
    const reads = reportEvery(g2.chainId, [m2], 400);
    try {
      type Unpaid = { meterId: string; period: string; account: string; total: string; height: number; disputed: boolean };
      let unpaid: Unpaid[] = [];
      await until('an unpaid bill of meter-0002 on the fleet route', async () => {
        unpaid = (await api('/api/v1/fleet', ADMIN)).body.unpaidBills as Unpaid[];
        return unpaid.some((b) => b.meterId === 'meter-0002');
      }, 60_000, 500).catch(async (e: Error) => {
        throw new Error(`${e.message}; fleet: ${JSON.stringify(unpaid)}; bills: ${JSON.stringify((await api('/api/v1/meters/meter-0002/bills', ADMIN)).body).slice(-600)}`);
      });
      assert.equal((await api('/api/v1/fleet', ownToken)).status, 403, 'an owner\'s session does not open the fleet');
      const bill = unpaid.find((b) => b.meterId === 'meter-0002')!;
      assert.equal(bill.account, 'owner-0002');
      assert.match(bill.total, /^\d+$/);
      const paidBills = ((await api('/api/v1/meters/meter-0001/bills', ADMIN)).body.bills as { period: string; paid: boolean }[]).filter((b) => b.paid);
      assert.ok(paidBills.length >= 1);
      const listed = new Set(unpaid.map((b) => `${b.meterId}/${b.period}`));
      for (const b of paidBills) assert.ok(!listed.has(`meter-0001/${b.period}`), `paid bill meter-0001/${b.period} is not listed`);
      const cur = (await api('/api/v1/fleet', ADMIN)).body.currency as { code: string; minorUnits: number };
      const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
      for (const [size, viewport] of Object.entries(VIEWPORTS)) {
        const ctx = await context(viewport, ADMIN);
        const { page, problems } = await open(ctx, url('/portal/fleet'));
        await page.waitForSelector('table#unpaid-bills', { timeout: 30_000 });
        assert.match((await page.textContent('#unpaid-bills caption'))!, /Committed bills with no payment: .*at most 1000/);
        const rows = await page.locator('#unpaid-bills tbody tr').allTextContents();
        const digits = bill.total.padStart(cur.minorUnits + 1, '0');
        const amount = `${digits.slice(0, digits.length - cur.minorUnits).replace(/\B(?=(\d{3})+$)/g, ',')}${cur.minorUnits > 0 ? `.${digits.slice(-cur.minorUnits)}` : ''} ${cur.code}`;
        assert.ok(rows.some((r) => r.includes(`meter-0002${bill.period}owner-0002${amount}`)), `the unpaid bill's row with ${amount}: ${rows.join(' | ')}`);
        await page.evaluate(axe);
        const result = await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run());
        const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe: fleet at ${size}`);
        const width = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
        assert.ok(width <= viewport.width + 1, `fleet ${size}: no horizontal scroll (${width} px)`);
        await page.screenshot({ path: join(ARTIFACTS, `portal-fleet-billing-${size}.png`), fullPage: true });
        assert.deepEqual(problems, []);
        await ctx.close();
      }
    } finally {
      clearInterval(reads);
      holdPay.delete('meter-0002');
    }
  });
});

