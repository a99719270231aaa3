/**
 * Receipts across a validator-set change, checked from the genesis file alone
 * (docs/protocol.md §13.5) by the portal in Chromium (playwright-core) and by
 * `meterledger verify --http`, against a real gateway whose one validator rotated its node
 * key (test/helpers/rotated-chain.ts): readings before the rotation are certified by the
 * genesis key, readings after it by the new key only. The portal follows the change chain
 * from genesis and checks each commit certificate with its height's set; `verify --http`
 * follows the changes the gateway serves and holds them against the replayed chain. A man
 * in the middle that alters the served change chain makes both fail, with the code.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { decodeReceipt, decodeSetChanges, encodeSetChanges, fromHex, toHex, verifyReceipt, verifyReceiptWithSetChanges } from '../../../protocols/index.js';
import { launchChromium } from '../../helpers/browser.js';
import { TEST_ADMIN_TOKEN, cli } from '../../helpers/gateway-process.js';
import { startHttpMitm } from '../../helpers/http-mitm.js';
import { ROTATED_METER, type RotatedChain, rotatedChain } from '../../helpers/rotated-chain.js';

declare const document: { querySelectorAll(s: string): { length: number }; getElementById(id: string): { textContent: string | null } | null };

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));
const BEFORE = 3;
const AFTER = 5;
const CHANGES = '/api/v1/validator-set/changes';

/** The served change chain with one bit of change 1's commit signature flipped: a forged certificate. */
function forge(cbor: string): string {
  const [first, ...rest] = decodeSetChanges(fromHex(cbor));
  const sig = Uint8Array.from(first!.commit.signatures[0]!.signature);
  sig[10]! ^= 1;
  const forged = { ...first!, commit: { ...first!.commit, signatures: [{ ...first!.commit.signatures[0]!, signature: sig }, ...first!.commit.signatures.slice(1)] } };
  return toHex(encodeSetChanges([forged, ...rest]));
}

describe('a validator rotated its key before the owner\'s readings: the portal and verify --http follow the change from genesis', { timeout: 300_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-set-follow-'));
  let chain: RotatedChain;
  let browser: Browser;

  before(async () => {
    chain = await rotatedChain(join(root, 'gw'), { readingsBefore: BEFORE });
    await chain.readings(AFTER);
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await chain?.meter.close();
    await chain?.gw.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function context(): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'UTC', locale: 'en-GB' });
    await ctx.addInitScript({ content: `sessionStorage.setItem('meterledger.accessToken', ${JSON.stringify(TEST_ADMIN_TOKEN)});` });
    return ctx;
  }

  async function receiptPage(ctx: BrowserContext, origin: string, seq: bigint): Promise<Page> {
    const page = await ctx.newPage();
    await page.goto(`${origin}/portal/receipt?meter=${ROTATED_METER}&seq=${seq}`);
    await page.waitForSelector('#result-h .badge', { timeout: 60_000 });
    return page;
  }

  test('the chain: the last reading is above H + 2 and its certificate is the new key\'s, not genesis\'s', async () => {
    const r = await chain.gw.json<{ height: number; cbor: string }>(`/api/v1/meters/${ROTATED_METER}/receipts/${chain.seq}`);
    assert.ok(r.body.height >= chain.rotationHeight + 2, `reading ${chain.seq} at ${r.body.height}, rotation at ${chain.rotationHeight}`);
    const receipt = decodeReceipt(fromHex(r.body.cbor));
    assert.throws(() => verifyReceipt(chain.genesis, receipt), /commit/);
    const changes = await chain.gw.json<{ cbor: string }>(CHANGES);
    assert.equal(verifyReceiptWithSetChanges(chain.genesis, receipt, decodeSetChanges(fromHex(changes.body.cbor))).validators[0]!.id, chain.validatorId);
  });

  test('the meter page verifies every reading, before and after the rotation', async () => {
    const ctx = await context();
    try {
      const page = await ctx.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.goto(`${chain.gw.httpUrl}/portal/meter?id=${ROTATED_METER}`);
      await page.waitForSelector('main[data-loaded="true"]', { timeout: 60_000 });
      const total = Number(chain.seq);
      await page.waitForFunction(() => document.querySelectorAll('tr[data-state="checking"]').length === 0 && /verified/.test(document.getElementById('checked')?.textContent ?? ''), undefined, { timeout: 60_000 });
      assert.equal(await page.textContent('#checked'), `${total} verified`);
      await page.screenshot({ path: join(ARTIFACTS, 'portal-set-follow-meter.png'), fullPage: true });
      assert.deepEqual(problems, []);

    } finally {
      await ctx.close();
    }
  });

  test('the receipt page (a browser that verified nothing before) names the set of the receipt\'s height', async () => {
    const ctx = await context();
    try {
      const problems: string[] = [];
      const late = await receiptPage(ctx, chain.gw.httpUrl, chain.seq);
      late.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      assert.equal(await late.textContent('#result-h .badge'), 'verified');
      const cert = (await late.textContent('li[data-check="commit certificate"]'))!;
      assert.match(cert, /validator set of height \d+ \(after 1 set change followed from genesis\)/);
      const early = await receiptPage(ctx, chain.gw.httpUrl, 1n);
      assert.equal(await early.textContent('#result-h .badge'), 'verified');
      assert.match((await early.textContent('li[data-check="commit certificate"]'))!, /genesis power/);
      await late.screenshot({ path: join(ARTIFACTS, 'portal-set-follow-receipt.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  test('a change chain altered in the middle: the portal shows FAILED at the commit certificate, never verified', async () => {
    const mitm = await startHttpMitm(chain.gw.httpPort, (path, body) => {
      if (path !== CHANGES) return undefined;
      return { ...(body as object), cbor: forge((body as { cbor: string }).cbor) };
    });
    const ctx = await context();
    try {
      const page = await receiptPage(ctx, mitm.url, chain.seq);
      assert.equal(await page.textContent('#result-h .badge'), 'FAILED');
      assert.equal(await page.getAttribute('li[data-check="commit certificate"]', 'data-ok'), 'false');
      assert.match((await page.textContent('li[data-check="commit certificate"]'))!, /validator-set changes do not verify from genesis: set change 1 \(height \d+\): commit certificate/);
      assert.ok(mitm.rewritten.includes(CHANGES));
    } finally {
      await ctx.close();
      await mitm.close();
    }
  });

  test('verify --http follows the served changes from genesis; a forged or withheld change fails with its code', async () => {
    const env = { ...process.env, METERLEDGER_HTTP_ADMIN_TOKEN: TEST_ADMIN_TOKEN };
    const ok = await cli(['verify', '--http', chain.gw.httpUrl, '--genesis', chain.genesisFile], { timeoutMs: 120_000, env });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: \d+ blocks/m);
    assert.match(ok.stdout, /note: validator-set changes: the 1 the gateway serves verify from genesis, and are the chain's 1/);

    const forged = await startHttpMitm(chain.gw.httpPort, (path, body) => (path === CHANGES ? { ...(body as object), cbor: forge((body as { cbor: string }).cbor) } : undefined));
    try {
      const bad = await cli(['verify', '--http', forged.url, '--genesis', chain.genesisFile], { timeoutMs: 120_000, env });
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /FAILED at height \d+: E_RECEIPT_INVALID: the validator-set changes the gateway serves do not verify from genesis: set change 1 \(height \d+\): commit certificate/);
    } finally {
      await forged.close();
    }
    // The empty list, CBOR []: the chain's change is withheld.
    const withheld = await startHttpMitm(chain.gw.httpPort, (path, body) => (path === CHANGES ? { ...(body as object), changes: [], cbor: '80' } : undefined));
    try {
      const bad = await cli(['verify', '--http', withheld.url, '--genesis', chain.genesisFile], { timeoutMs: 120_000, env });
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, new RegExp(`FAILED at height ${chain.rotationHeight}: E_VALSET_CHANGES_MISMATCH: .*change 1 \\(height ${chain.rotationHeight}, tx [0-9a-f]{64}\\) is in the chain but not served`));
    } finally {
      await withheld.close();
    }
  });
});
