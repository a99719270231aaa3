/**
 * `meterledger verify` recomputes the money (issue 12) over a LevelDB store a real node
 * built (test/helpers/billing-chain.ts): every bill again from genesis, payments once
 * each within their mandates, balances, conservation. A stored bill, payment or balance
 * edited in the store is caught with its code.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { StateKind } from '../../../protocols/index.js';
import { auditStore } from '../../../ledger-node/audit.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { decodeStateValue, encodeStateValue } from '../../../ledger-node/store/codec.js';
import { Keys } from '../../../ledger-node/store/keys.js';
import { type BillingChain, buildBillingChain } from '../../helpers/billing-chain.js';

const MAIN = fileURLToPath(new URL('../../../gateway/cli/main.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 30_000, env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

let bc: BillingChain;
before(async () => {
  bc = await buildBillingChain();
});
after(() => bc?.chain.cleanup());

/** Edit one stored record in place, audit, and put it back. */
async function withEdited(kind: string, id: string, edit: (v: Record<string, unknown>) => Record<string, unknown> | null): Promise<{ ok: boolean; code?: string; reason?: string }> {
  const path = dataPaths(bc.chain.dataDir).store;
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const key = Keys.record(kind, id);
  const was = await db.get(key);
  assert.ok(was, `${kind}/${id} is stored`);
  const next = edit(decodeStateValue(kind, was, id) as Record<string, unknown>);
  if (next === null) await db.del(key);
  else await db.put(key, encodeStateValue(kind, next));
  await db.close();
  try {
    const r = await auditStore(bc.chain.dataDir, bc.genesis);
    return r.ok ? { ok: true } : { ok: false, ...(r.code ? { code: r.code } : {}), reason: r.reason };
  } finally {
    const again = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await again.open();
    await again.put(key, was);
    await again.close();
  }
}

test('meterledger verify: the chain\'s bills recomputed, payments once each within their mandates, balances equal deposits minus withdrawals', async () => {
  const r = await cli(['verify', '--data-dir', bc.chain.dataDir, '--genesis', bc.genesisFile]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok: \d+ blocks/);
  assert.match(r.stdout, /money: 2 bills recomputed, 2 payments \(none twice, within their mandates\), 4 accounts holding (\d+) = deposits (\d+) - withdrawals (\d+)/);
  const [, held, dep, wd] = /holding (\d+) = deposits (\d+) - withdrawals (\d+)/.exec(r.stdout)!;
  assert.equal(BigInt(held!), BigInt(dep!) - BigInt(wd!));
});

test('a stored bill edited (its total) is caught: E_AUDIT_BILL', async () => {
  const r = await withEdited(StateKind.Bill, 'meter-1/2026-01', (v) => ({ ...v, total: 1n }));
  assert.equal(r.code, 'E_AUDIT_BILL', r.reason);
  assert.match(r.reason!, /bill "meter-1\/2026-01".*total 1, the chain makes 7874/);
});

test('a stored payment edited (its amount) or deleted is caught: E_AUDIT_PAYMENT', async () => {
  const edited = await withEdited(StateKind.Payment, 'meter-1/2026-01', (v) => ({ ...v, amount: 1n }));
  assert.equal(edited.code, 'E_AUDIT_PAYMENT', edited.reason);
  const gone = await withEdited(StateKind.Payment, 'meter-2/2026-01', () => null);
  assert.equal(gone.code, 'E_AUDIT_PAYMENT', gone.reason);
  assert.match(gone.reason!, /payment "meter-2\/2026-01" is missing from the store/);
});

test('a stored balance edited is caught: E_AUDIT_BALANCE; the untouched store audits clean afterwards', async () => {
  const r = await withEdited(StateKind.Account, 'john', (v) => ({ ...v, balance: BigInt(v.balance as number | bigint) + 100n }));
  assert.equal(r.code, 'E_AUDIT_BALANCE', r.reason);
  assert.equal((await auditStore(bc.chain.dataDir, bc.genesis)).ok, true);
});

test('a stored meter record edited in its anti-replay window only is caught, and the message names the field (seen), not just lastSeq', async () => {
  const r = await withEdited(StateKind.Meter, 'meter-1', (v) => ({ ...v, seen: (v.seen as bigint) ^ 2n }));
  assert.equal(r.ok, false);
  assert.match(r.reason!, /registry: meter "meter-1": the stored record differs from the chain \(seen \d+, the chain makes \d+\)/);
  assert.doesNotMatch(r.reason!, /lastSeq/);
});
