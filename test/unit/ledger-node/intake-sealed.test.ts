/**
 * A device's sealed readings (docs/protocol.md §11.4) are decoded and their signatures
 * checked in the verify workers (ledger-node/crypto/tx-worker.ts); the meter must get what
 * the main thread's own decode and verify give. Each case goes to one LedgerNode (memory
 * store, 2 verify workers) from the meter over MQTT (the worker path) and as the same bytes
 * over HTTP (decoded and verified on the main thread): the same status, code and message.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  type SealedReading, type SubmitResult, TxType, encodeCbor, encodeSealedReadingBody, periodKeySchedule, sealPeriodKey, sealReading,
  signCoseSign1, signPeriodKey, signSealedReading,
} from '../../../protocols/index.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { SealingMeter } from '../../../gateway/sim/sealing.js';
import { makeTestChain } from '../../helpers/devchain.js';
import { inMemory } from '../../helpers/memory-store.js';

const outcome = (r: SubmitResult): string => (r.status === 'accepted' ? 'accepted' : `${r.code}: ${r.message}`);

describe('sealed readings decoded in the verify workers', { timeout: 60_000 }, () => {
  const chain = makeTestChain({ meters: 1, confidential: true });
  after(() => chain.cleanup());
  const { chainId } = chain.genesis;
  const meterId = chain.meterIds[0]!;
  const key = chain.meterKeys.get(meterId)!;

  test('every case answers the meter as the main thread would: accepted, bad signature, each malformed body', async () => {
    const node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 50, verifyWorkers: 2 });
    try {
      const rnd = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
      const periodKey = rnd(32);
      const recipients = SealingMeter.recipientsIn(chain.genesis).get(meterId)!;
      const keyTx = signPeriodKey(chainId, key.alg, key.secretKey, sealPeriodKey({ chainId, meterId, period: '2026-12', time: Date.now(), periodKey, recipients, random: rnd }));
      assert.equal(outcome(await node.intake.submit(keyTx, { meterId, transport: 'mqtt' })), 'accepted', 'the period key');
      const schedule = periodKeySchedule(periodKey, meterId, '2026-12');
      const seal = (seq: bigint): SealedReading => sealReading(chainId, schedule, { type: TxType.Reading, meterId, seq, time: Date.now(), importWh: 100 + Number(seq) });
      const signed = (b: SealedReading): Uint8Array => signSealedReading(chainId, key.alg, key.secretKey, b);
      const other = (b: SealedReading, sealed: Partial<SealedReading['sealed']>): Uint8Array =>
        signCoseSign1(key.alg, key.secretKey, encodeSealedReadingBody({ ...b, sealed: { ...b.sealed, ...sealed } }), chainId);

      const flipped = Uint8Array.from(signed(seal(2n)));
      flipped[flipped.length - 2]! ^= 1;
      const s3 = seal(3n);
      const enc0 = [s3.sealed.protectedBytes, new Map([[5, s3.sealed.iv]]), s3.sealed.ciphertext];
      const mixed = encodeCbor(new Map<number, unknown>([[0, 1], [1, meterId], [2, 3n], [3, s3.time], [4, 7], [12, enc0]]));
      const cases: { name: string; bytes: Uint8Array; want: RegExp }[] = [
        { name: 'a good sealed reading', bytes: signed(seal(1n)), want: /^accepted$/ },
        { name: 'a bad signature', bytes: flipped, want: /^E_READING_BAD_SIGNATURE: signature does not verify with the registered key$/ },
        { name: 'the IV of another seq', bytes: other(s3, { iv: seal(4n).sealed.iv }), want: /^E_CONF_MALFORMED: IV must be/ },
        { name: 'a short ciphertext', bytes: other(s3, { ciphertext: s3.sealed.ciphertext.subarray(1) }), want: /^E_CONF_MALFORMED: ciphertext/ },
        { name: 'clear and sealed at once', bytes: signCoseSign1(key.alg, key.secretKey, mixed, chainId), want: /^E_READING_SCHEMA: a reading is clear/ },
        { name: 'a sealed reading under an unpublished key', bytes: signed(sealReading(chainId, periodKeySchedule(rnd(32), meterId, '2026-12'), { type: TxType.Reading, meterId, seq: 5n, time: Date.now(), importWh: 1 })), want: /^E_CONF_UNKNOWN_KEY: / },
      ];
      for (const c of cases) {
        const device = outcome(await node.intake.submit(c.bytes, { meterId, transport: 'mqtt' }));
        assert.match(device, c.want, `${c.name}, from the meter`);
        const main = outcome(await node.intake.submit(c.bytes, { meterId: '', transport: 'http' }));
        assert.equal(device, main, `${c.name}: the same answer as the main thread's decode and verify`);
      }
    } finally {
      await node.close();
    }
  });
});
