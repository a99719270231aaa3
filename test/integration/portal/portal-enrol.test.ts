/**
 * The owner's password-less portal in Chromium (playwright-core) against a real gateway
 * on a billing dev chain (`init --billing`, bills issued every few seconds from meters on
 * real MQTT): enrolment with a one-time code from `meterledger account enrol-code` (the
 * browser's non-extractable WebCrypto key in IndexedDB becomes the account key through
 * the registrar's committed rotation), the code refused the second time, sign-in by a
 * challenge signed in the page, a mandate created, changed and revoked and a bill
 * disputed and a due bill paid from the bills page (refused E_BILL_ALREADY_PAID the
 * second time), each a COSE_Sign1 signed in the browser and read back through the API, and a
 * lost device: after enrolment from another browser profile the old key is refused.
 * Screenshots in test-artifacts/, axe-core on each page.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { decodeReceipt, fromHex, parseGenesis, verifyReceipt } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { closePortalRig, launchChromium } from '../../helpers/browser.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { until } from '../../helpers/until.js';

declare const document: { getElementById(id: string): { textContent: string | null } | null };

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));
const ADMIN_TOKEN = 'portal-enrol-test-admin-token';
const OP = { authorization: `Bearer ${ADMIN_TOKEN}` };
const CYCLE_S = 3;
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } } as const;

describe('password-less portal: enrolment, signed mandates and disputes, a lost device', { timeout: 300_000 }, () => {
  let dir: string;
  let gw: GatewayProcess;
  let browser: Browser;
  let meter: TestMeter;
  let ticker: NodeJS.Timeout | undefined;
  let tokenFile: string;
  /** The first profile: enrolled first, later the lost device. */
  let first: BrowserContext;
  let firstCode: string;
  const base = (): string => `http://127.0.0.1:${gw.httpPort}`;

  const api = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> => {
    const r = await fetch(base() + path, { ...init, headers: { ...OP, ...(init.headers as Record<string, string> | undefined) }, signal: AbortSignal.timeout(10_000) });
    return { status: r.status, body: await r.json() };
  };
  const enrolCode = async (account: string): Promise<string> => {
    const r = await cli(['account', 'enrol-code', '--account', account], {
      env: { ...process.env, METERLEDGER_URL: base(), METERLEDGER_HTTP_ADMIN_TOKEN_FILE: tokenFile, METERLEDGER_HTTP_ADMIN_TOKEN: '' },
    });
    assert.equal(r.code, 0, r.stderr);
    const m = /^code: (\S+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.match(r.stdout, /^expires: \d{4}-\d\d-\d\dT/m);
    return m[1]!;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterledger-portal-enrol-'));
    const init = await cli(['init', '--data-dir', dir, '--meters', '2', '--billing', '--cycle-s', String(CYCLE_S)]);
    assert.equal(init.code, 0, init.stderr);
    const cfg = join(dir, 'test-config.json');
    writeFileSync(cfg, JSON.stringify({
      ledger: { blockIntervalMs: 200 }, http: { adminToken: ADMIN_TOKEN },
      billing: { autoIssue: { keyFile: 'keys/operator.key', payee: 'superenergy', retryMinMs: 300, retryMaxMs: 2000 } },
    }), { mode: 0o600 });
    tokenFile = join(dir, 'operator-token');
    writeFileSync(tokenFile, ADMIN_TOKEN + '\n', { mode: 0o600 });
    gw = await GatewayProcess.create(dir, ['--config', cfg]);
    await gw.start();
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    meter = await TestMeter.connect(gw.mqttUrl, genesis, 'meter-0001', loadKeyFile(dataPaths(dir).meterKey('meter-0001')));
    // A reading every 400 ms, the register following the clock: bills come every cycle.
    ticker = meter.reportEvery(400);
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
    first = await browser.newContext({ viewport: VIEWPORTS.desktop, timezoneId: 'UTC', locale: 'en-GB' });
  });

  after(() => closePortalRig({ ticker, browser, meter, gw, dir }));

  /** A page with page errors, CSP violations and outside requests collected. */
  async function open(ctx: BrowserContext, path: string): Promise<{ page: Page; problems: string[] }> {
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(`${base()}/`)) problems.push(`outside request: ${r.url()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.goto(base() + path);
    return { page, problems };
  }

  /** Fill the enrolment form with the keyboard and send it with Enter. */
  async function enrol(page: Page, account: string, code: string): Promise<void> {
    await page.waitForSelector('#enrol');
    await page.focus('#enrol-account');
    await page.keyboard.type(account);
    await page.keyboard.press('Tab');
    await page.keyboard.type(code);
    await page.keyboard.press('Enter');
  }

  const accountKey = async (account: string): Promise<{ alg: string; publicKey: string; keyEpoch: number }> => (await api(`/api/v1/accounts/${account}`)).body;

  test('enrol with a code: the browser key (non-extractable, in IndexedDB) becomes the account key, and the tab is signed in', async () => {
    firstCode = await enrolCode('owner-0001');
    const before1 = await accountKey('owner-0001');
    assert.equal(before1.alg, 'Ed25519');
    const { page, problems } = await open(first, '/portal/enrol');
    await page.screenshot({ path: join(ARTIFACTS, 'portal-enrol-desktop.png') });
    await enrol(page, 'owner-0001', firstCode);
    await page.waitForURL(`${base()}/portal/`, { timeout: 60_000 });
    await page.waitForSelector('.meter-list');
    assert.match((await page.textContent('.meter-list'))!, /meter-0001/);
    assert.doesNotMatch((await page.textContent('.meter-list'))!, /meter-0002/, 'an owner sees only its own meters');
    const after1 = await accountKey('owner-0001');
    assert.equal(after1.alg, 'ES256');
    assert.equal(after1.keyEpoch, before1.keyEpoch + 1);
    // The key in IndexedDB: a CryptoKeyPair whose private half cannot be exported, and whose public half is the account key.
    const stored = await page.evaluate(async () => {
      const g = globalThis as any;
      const db: any = await new Promise((res, rej) => {
        const r = g.indexedDB.open('meterledger', 1);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const rec: any = await new Promise((res, rej) => {
        const r = db.transaction('account-keys').objectStore('account-keys').get('owner-0001');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      let exported = true;
      try {
        await g.crypto.subtle.exportKey('pkcs8', rec.keys.privateKey);
      } catch {
        exported = false;
      }
      const raw = new Uint8Array(await g.crypto.subtle.exportKey('raw', rec.keys.publicKey));
      return { extractable: rec.keys.privateKey.extractable, exported, alg: rec.keys.privateKey.algorithm.namedCurve, x: Array.from(raw.slice(1, 33)), odd: raw[64] & 1 };
    });
    assert.equal(stored.extractable, false);
    assert.equal(stored.exported, false, 'the private key cannot be exported');
    assert.equal(stored.alg, 'P-256');
    const compressed = [stored.odd ? 3 : 2, ...stored.x].map((b) => b.toString(16).padStart(2, '0')).join('');
    assert.equal(after1.publicKey, compressed, 'the account key is the browser\'s public key');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('the same code is refused the second time (E_ENROL_BAD_CODE), and the account key stays', async () => {
    const ctx = await browser.newContext({ viewport: VIEWPORTS.phone });
    const { page } = await open(ctx, '/portal/enrol');
    const keyBefore = await accountKey('owner-0001');
    await enrol(page, 'owner-0001', firstCode);
    await page.waitForFunction(() => /E_ENROL_BAD_CODE/.test(document.getElementById('enrol-status')?.textContent ?? ''), undefined, { timeout: 20_000 });
    assert.match((await page.textContent('#enrol-status'))!, /Not enrolled: .*used already/);
    assert.deepEqual(await accountKey('owner-0001'), keyBefore);
    await page.screenshot({ path: join(ARTIFACTS, 'portal-enrol-refused-phone.png') });
    await ctx.close();
  });

  test('sign in: a new tab signs the challenge with the stored key', async () => {
    const { page, problems } = await open(first, '/portal/');
    await page.waitForSelector('#sign-in');
    // The one enrolled account is filled in; the operator's token form is folded away.
    await page.waitForFunction(() => (globalThis as any).document.getElementById('sign-in-account').value === 'owner-0001');
    assert.equal(await page.isVisible('#access-token'), false);
    await page.screenshot({ path: join(ARTIFACTS, 'portal-sign-in-desktop.png') });
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('.meter-list', { timeout: 20_000 });
    assert.ok(await page.$('#sign-out'));
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a mandate signed in the browser: created, its caps changed, revoked, each read back committed', async () => {
    const { page, problems } = await open(first, '/portal/');
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('.meter-list');
    await page.click('nav a[href="/portal/mandates"]');
    await page.waitForSelector('#new-mandate');
    await page.fill('#new-payee', 'owner-0002');
    await page.fill('#new-cap-bill', '12.34');
    await page.fill('#new-cap-month', '50');
    await page.click('#new-mandate button[type=submit]');
    await page.waitForFunction(() => /Mandate for owner-0002: committed/.test(document.getElementById('mandate-status')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const read = async () => ((await api('/api/v1/accounts/owner-0001/mandates')).body.mandates as any[]).find((m) => m.payee === 'owner-0002');
    let m = await read();
    assert.ok(m, 'the mandate is in the committed state');
    assert.deepEqual([m.capPerBill, m.capPerMonth, m.meters, m.revoked, m.autopay], ['1234', '5000', ['meter-0001'], false, false]);
    await page.screenshot({ path: join(ARTIFACTS, 'portal-mandates-desktop.png'), fullPage: true });

    const row = page.locator('tr[data-payee="owner-0002"]');
    await row.locator('input[name=capPerBill]').fill('7.5');
    await row.locator('button:has-text("Change caps")').click();
    await page.waitForFunction(() => /Caps of the mandate for owner-0002: committed/.test(document.getElementById('mandate-status')?.textContent ?? ''), undefined, { timeout: 30_000 });
    m = await read();
    assert.equal(m.capPerBill, '750');
    assert.equal(m.capPerMonth, '5000');

    await page.locator('tr[data-payee="owner-0002"] button:has-text("Revoke")').click();
    await page.waitForFunction(() => /Revocation of the mandate for owner-0002: committed/.test(document.getElementById('mandate-status')?.textContent ?? ''), undefined, { timeout: 30_000 });
    assert.equal((await read()).revoked, true);
    assert.equal(await page.getAttribute('tr[data-payee="owner-0002"]', 'data-state'), 'revoked');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a bill disputed in the browser: the dispute is committed and open', async () => {
    await until('a bill of meter-0001', async () => ((await api('/api/v1/accounts/owner-0001/bills')).body.bills as any[]).some((b) => b.meterId === 'meter-0001'), 90_000);
    const { page, problems } = await open(first, '/portal/');
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('.meter-list');
    await page.goto(`${base()}/portal/disputes`);
    await page.waitForSelector('#dispute');
    const option = await page.$eval('#dispute-bill option', (o: any) => o.textContent as string);
    const [meterId, period] = option.split(' · ');
    await page.fill('#dispute-reason', 'The meter was off that week');
    await page.press('#dispute-reason', 'Tab');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /committed; the dispute is open/.test(document.getElementById('dispute-status')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const bill = (await api(`/api/v1/bills/${meterId}/${period}`)).body;
    assert.equal(bill.dispute?.status, 'open');
    assert.equal(bill.dispute?.reason, 'The meter was off that week');
    assert.equal(await page.getAttribute(`tr[data-bill="${meterId}/${period}"]`, 'data-dispute'), 'open');
    await page.screenshot({ path: join(ARTIFACTS, 'portal-disputes-desktop.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a due bill paid from the bills page: confirmed with its amount, signed in the browser, paid by the owner, shown paid live', async () => {
    // The meters here send readings only and the dev mandate has no autopay: bills stay due until someone pays them.
    const due = (b: any): boolean => b.meterId === 'meter-0001' && !b.paid;
    await until('two due bills of meter-0001', async () => ((await api('/api/v1/accounts/owner-0001/bills')).body.bills as any[]).filter(due).length >= 2, 90_000);
    const { page, problems } = await open(first, '/portal/');
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('.meter-list');
    await page.goto(`${base()}/portal/bills`);
    // A second tab whose live feed is cut: its list is not refreshed, so its button stays after the first tab pays.
    const { page: stale } = await open(first, '/portal/');
    await stale.click('#sign-in button[type=submit]');
    await stale.waitForSelector('.meter-list');
    await stale.route('**/api/v1/accounts/*/events', (r) => r.abort());
    await stale.goto(`${base()}/portal/bills`);
    const payable = 'article.bill[data-state=match] button.pay-bill';
    await page.waitForSelector(payable, { timeout: 60_000 });
    // A bill that is not the disputed one.
    const key = await page.$$eval(payable, (bs: any[]) => bs.map((b) => b.closest('article')).find((a) => !/disputed/.test(a.querySelector('.status').textContent))?.dataset.bill as string | undefined);
    assert.ok(key, 'a due, undisputed bill with a pay button');
    const [meterId, period] = key.split('/') as [string, string];
    const bill0 = (await api(`/api/v1/bills/${meterId}/${period}`)).body;
    assert.equal(bill0.payment, null);
    const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
    const c = genesis.currency!;
    const total = BigInt(bill0.total);
    const amount = `${c.code} ${total / 10n ** BigInt(c.minorUnits)}.${(total % 10n ** BigInt(c.minorUnits)).toString().padStart(c.minorUnits, '0')}`;
    const box = `[data-pay="${key}"]`;
    await stale.waitForSelector(`${box} button.pay-bill`, { timeout: 60_000 });

    // Keyboard only: the button, then the confirmation (focused) showing the amount, then Enter signs and pays.
    await page.focus(`${box} button.pay-bill`);
    assert.match((await page.getAttribute(`${box} button.pay-bill`, 'aria-label'))!, /^Pay now: /);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`${box} [role=group]:not([hidden])`);
    const question = (await page.textContent(`${box} [role=group]`))!;
    assert.ok(question.includes(`Pay ${amount} from account owner-0001`), `${question} shows ${amount}`);
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.className), 'pay-confirm');
    await page.screenshot({ path: join(ARTIFACTS, 'portal-bill-pay-confirm-desktop.png'), fullPage: true });
    await page.evaluate(readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8'));
    const axed = await page.evaluate(() => (globalThis as any).axe.run() as Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>);
    assert.deepEqual(axed.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], 'bills page, confirming');
    await page.focus(`${box} button.pay-confirm`);
    await page.keyboard.press('Enter');

    await until('the bill paid', async () => (await api(`/api/v1/bills/${meterId}/${period}`)).body.payment !== null, 30_000);
    const bill = (await api(`/api/v1/bills/${meterId}/${period}`)).body;
    assert.equal(bill.payment.by, 'owner', 'paid by the owner\'s signature, not by the meter or autopay');
    assert.equal(bill.payment.amount, bill0.total);
    // The payment transaction in the account's money, signed with the account's key (kid = the account).
    const money = (await api('/api/v1/accounts/owner-0001/payments')).body;
    const signed = (money.transactions as any[]).map((t) => verifyReceipt(genesis, decodeReceipt(fromHex(t.receipt, 'receipt'))).tx)
      .find((tx) => (tx.body as any).type === 16 && (tx.body as any).meterId === meterId && (tx.body as any).period === period);
    assert.ok(signed, 'the payment transaction is in the account\'s money');
    assert.equal(signed.cose.kid, 'owner-0001', 'signed with the account key');
    // The page shows it paid, live, and the button is gone.
    await page.waitForFunction((k: string) => {
      const a = (globalThis as any).document.querySelector(`article[data-bill="${k}"]`);
      return a && /^paid at height \d+ \(by owner\)/.test(a.querySelector('.status').textContent) && !a.querySelector('button.pay-bill');
    }, key, { timeout: 20_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'portal-bill-paid-desktop.png'), fullPage: true });
    assert.deepEqual(problems, []);

    // The stale tab pays again: the ledger refuses it, and the page says why with the code.
    await stale.click(`${box} button.pay-bill`);
    await stale.click(`${box} button.pay-confirm`);
    await stale.waitForFunction((k: string) => /E_BILL_ALREADY_PAID/.test((globalThis as any).document.querySelector(`[data-pay="${k}"] .pay-status`)?.textContent ?? ''), key, { timeout: 20_000 });
    assert.equal(await stale.getAttribute(`${box} .pay-status`, 'role'), 'alert');
    await stale.screenshot({ path: join(ARTIFACTS, 'portal-bill-pay-refused-desktop.png'), fullPage: true });
    assert.equal((await api(`/api/v1/bills/${meterId}/${period}`)).body.payment.height, bill.payment.height, 'still the one payment');
    await stale.close();
    await page.close();
  });

  test('a mandate with autopay signed in the browser: the meter\'s next bill pays itself under it, shown paid live', async () => {
    const { page, problems } = await open(first, '/portal/');
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('.meter-list');
    await page.click('nav a[href="/portal/mandates"]');
    await page.waitForSelector('#new-mandate');
    // The biller's payee: this replaces the dev chain's mandate (one per account and payee), now with autopay.
    await page.fill('#new-payee', 'superenergy');
    await page.check('#new-autopay');
    await page.click('#new-mandate button[type=submit]');
    await page.waitForFunction(() => /Mandate for superenergy: committed/.test(document.getElementById('mandate-status')?.textContent ?? ''), undefined, { timeout: 30_000 });
    const m = ((await api('/api/v1/accounts/owner-0001/mandates')).body.mandates as any[]).find((x) => x.payee === 'superenergy');
    assert.equal(m?.autopay, true, 'the committed mandate has autopay');
    const from = (await api('/api/v1/status')).body.height as number;

    // The bills page, left open: the next bill of meter-0001 arrives paid, without a reload.
    await page.click('nav a[href="/portal/bills"]');
    const handle = await page.waitForFunction(() => {
      const a = [...(globalThis as any).document.querySelectorAll('article.bill[data-state=match]')]
        .find((x: any) => /^paid at height \d+ \(by autopay\)/.test(x.querySelector('.status')?.textContent ?? ''));
      return a ? (a.dataset.bill as string) : false;
    }, undefined, { timeout: 60_000 });
    const key = (await handle.jsonValue()) as string;
    const [meterId, period] = key.split('/') as [string, string];
    const bill = (await api(`/api/v1/bills/${meterId}/${period}`)).body;
    assert.equal(bill.payment.by, 'autopay', 'paid under the mandate at issue');
    assert.equal(bill.payment.amount, bill.total);
    // `from` was read after the mandate committed, so it may already be the height of the
    // next block, the one holding this bill and its autopay: not before it, then. (The dev
    // chain's own mandate has no autopay, so `by: autopay` above is this mandate's doing.)
    assert.ok(bill.payment.height >= from, `paid no earlier than the mandate committed (height ${bill.payment.height} >= ${from})`);
    await page.screenshot({ path: join(ARTIFACTS, 'portal-bill-autopaid-desktop.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('axe-core: no serious or critical violations on the enrol, sign-in, mandates and disputes pages; phone screenshots', async () => {
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    const phone = await browser.newContext({ viewport: VIEWPORTS.phone });
    const { page: signedOut } = await open(phone, '/portal/enrol');
    const pages: [string, Page][] = [['enrol', signedOut]];
    const { page: signIn } = await open(phone, '/portal/');
    await signIn.waitForSelector('#sign-in');
    pages.push(['sign-in', signIn]);
    // The first profile, at phone size.
    for (const path of ['/portal/mandates', '/portal/disputes']) {
      const { page } = await open(first, '/portal/');
      await page.setViewportSize(VIEWPORTS.phone);
      await page.click('#sign-in button[type=submit]');
      await page.waitForSelector('.meter-list');
      await page.goto(base() + path);
      await page.waitForSelector(path.endsWith('mandates') ? '#new-mandate' : '#dispute');
      pages.push([path.slice('/portal/'.length), page]);
    }
    for (const [name, page] of pages) {
      await page.screenshot({ path: join(ARTIFACTS, `portal-${name}-phone.png`), fullPage: true });
      await page.evaluate(axe);
      const result = await page.evaluate(() => (globalThis as any).axe.run() as Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>);
      const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], name);
      await page.close();
    }
    await phone.close();
  });

  test('lost device: after the registrar rotates to a key enrolled in another profile, the old key is refused', async () => {
    // The old profile's open session, to see it end.
    const { page: oldTab } = await open(first, '/portal/');
    await oldTab.click('#sign-in button[type=submit]');
    await oldTab.waitForSelector('.meter-list');
    const epoch = (await accountKey('owner-0001')).keyEpoch;

    const other = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const { page, problems } = await open(other, '/portal/enrol');
    await enrol(page, 'owner-0001', await enrolCode('owner-0001'));
    await page.waitForURL(`${base()}/portal/`, { timeout: 60_000 });
    await page.waitForSelector('.meter-list');
    assert.equal((await accountKey('owner-0001')).keyEpoch, epoch + 1);
    assert.deepEqual(problems, []);

    // The old tab's session was opened with the old key: refused now.
    await oldTab.reload();
    await oldTab.waitForSelector('#sign-in-error');
    assert.match((await oldTab.textContent('#sign-in-error'))!, /E_SESSION_REVOKED/);
    // And the old key signs in no more.
    await oldTab.click('#sign-in button[type=submit]');
    await oldTab.waitForSelector('#sign-in-key-error', { timeout: 20_000 });
    assert.match((await oldTab.textContent('#sign-in-key-error'))!, /E_SESSION_BAD_SIGNATURE/);
    await oldTab.screenshot({ path: join(ARTIFACTS, 'portal-lost-device-desktop.png') });
    // The new profile still reads its account.
    await page.reload();
    await page.waitForSelector('.meter-list');
    await other.close();
    await first.close();
  });
});
