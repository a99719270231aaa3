/** The test intake really verifies: a wrong fake would make every bridge test meaningless. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Alg, signTx, verifyReceipt } from '../../../protocols/index.js';
import { FakeIntake } from '../../helpers/fake-intake.js';

const ctx = (meterId: string) => ({ meterId, transport: 'mqtt' as const });
const codeOf = (r: Awaited<ReturnType<FakeIntake['submit']>>): string => (r.status === 'rejected' ? r.code : r.status);

describe('FakeIntake', { timeout: 10_000 }, () => {
  test('accepts a good reading and refuses replay, wrong meter, bad signature, garbage, revoked', async () => {
    const i = new FakeIntake();
    i.addMeter('m1');
    i.addMeter('m2', { alg: Alg.ES256 });
    assert.equal(codeOf(await i.submit(i.reading('m1', 1n), ctx('m1'))), 'accepted');
    assert.equal(codeOf(await i.submit(i.reading('m1', 1n), ctx('m1'))), 'E_READING_SEQ_REPLAY');
    assert.equal(codeOf(await i.submit(i.reading('m2', 1n), ctx('m1'))), 'E_READING_WRONG_METER');
    const forged = signTx(i.chainId, Alg.EdDSA, i.meters.get('m1')!.secretKey, { type: 1, meterId: 'm2', seq: 5n, time: 1, importWh: 1 });
    assert.equal(codeOf(await i.submit(forged, ctx('m2'))), 'E_READING_BAD_ALG');
    const otherChain = signTx('other-chain', Alg.ES256, i.meters.get('m2')!.secretKey, { type: 1, meterId: 'm2', seq: 5n, time: 1, importWh: 1 });
    assert.equal(codeOf(await i.submit(otherChain, ctx('m2'))), 'E_READING_BAD_SIGNATURE');
    assert.equal(codeOf(await i.submit(Uint8Array.of(1, 2, 3), ctx('m1'))), 'E_READING_MALFORMED');
    i.revoke('m2');
    assert.equal(codeOf(await i.submit(i.reading('m2', 9n), ctx('m2'))), 'E_READING_METER_REVOKED');
    i.busy = true;
    assert.equal(codeOf(await i.submit(i.reading('m1', 2n), ctx('m1'))), 'E_GATEWAY_BUSY');
  });

  test('committed readings carry receipts that verify against its genesis (RFC 6962 proofs, >2/3 commit)', async () => {
    const i = new FakeIntake();
    i.addMeter('m1');
    for (let s = 1n; s <= 5n; s++) await i.submit(i.reading('m1', s), ctx('m1'));
    const seen: bigint[] = [];
    const off = i.onCommitted((c) => seen.push(c.seq));
    const out = i.commitPending();
    off();
    assert.deepEqual(seen, [1n, 2n, 3n, 4n, 5n]);
    for (const c of out) assert.equal(verifyReceipt(i.genesis(), c.receipt).signatureChecked, true);
    assert.equal(i.listenerCount(), 0);
  });
});
