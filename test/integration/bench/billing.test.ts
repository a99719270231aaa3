/**
 * The billing benchmark (bench/billing.ts) at a small size: the store it builds in bulk is
 * one `meterledger verify` accepts (every reading's signature, every meter record, every
 * bill recomputed), and every meter's March bill is committed after each validator's check.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runBillingBench } from '../../../bench/billing.js';
import { cli } from '../../helpers/gateway-process.js';

const root = mkdtempSync(join(tmpdir(), 'ml-billbench-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('billing bench, 4 meters x 2 validators: all bills committed, the store verifies', { timeout: 60_000 }, async () => {
  const dataDir = join(root, 'd');
  const f = await runBillingBench({ meters: 4, validators: 2, dataDir, log: () => {} });
  assert.equal(f.bills, 4);
  assert.equal(f.readings, 4 * 2983); // 28 Feb 22:45Z to 1 Apr 00:15Z, every quarter hour
  assert.equal(f.validateCpuUsPerBill.length, 2);
  assert.ok(f.validateCpuUsPerBill.every((us) => us > 0));
  assert.ok(BigInt(f.totalBilled) > 0n);
  const r = await cli(['verify', '--data-dir', dataDir], { timeoutMs: 40_000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, new RegExp(`ok: ${f.height} blocks`));
  assert.match(r.stdout, /4 bills recomputed/);
});
