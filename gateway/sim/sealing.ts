/**
 * A simulated confidential meter (docs/protocol.md §11): per billing period it makes a
 * period key, wraps it to the recipients its genesis entry names and publishes that key
 * transaction (type 5) before the first reading sealed under it; each reading's measured
 * fields are then sealed (COSE_Encrypt0, protocols/confidential) and the payload signed.
 */
import {
  type Genesis, type PeriodKeySchedule, type Reading, type RecipientKey, chainCycle, cryptoRandom, encodeCoseSign1,
  encodePeriodKeyBody, encodeProtectedHeader, encodeSealedReadingBody, genesisRecipientKeys, newPeriodKey, periodKeySchedule,
  sealPeriodKey, sealReading, sigStructure,
} from '../../protocols/index.js';
import { nativeSign } from '../../ledger-node/crypto/native.js';
import type { KeyPair } from '../../ledger-node/keyfile.js';

/** The period a reading at `time` belongs to: the chain's cycle (`cycle-N`), else its UTC month. */
export function keyPeriodOf(genesis: Genesis, time: number): string {
  const cycle = chainCycle(genesis);
  if (cycle) return `cycle-${Math.max(0, Math.floor((time - cycle.epoch) / cycle.lengthMs))}`;
  return new Date(time).toISOString().slice(0, 7);
}

const signPayload = (chainId: string, key: KeyPair, payload: Uint8Array): Uint8Array => {
  const prot = encodeProtectedHeader(key.alg);
  return encodeCoseSign1(prot, payload, nativeSign(key.alg, key.privateKey, sigStructure(prot, payload, chainId)));
};

/** One confidential meter's sealing: which period key it uses now, and its transactions. */
export class SealingMeter {
  private current: PeriodKeySchedule | undefined;

  constructor(
    private readonly genesis: Genesis,
    private readonly meterId: string,
    private readonly key: KeyPair,
    private readonly recipients: readonly RecipientKey[],
  ) {}

  /** The meters of genesis that are confidential, with their recipient keys. */
  static recipientsIn(genesis: Genesis): Map<string, RecipientKey[]> {
    return new Map(genesis.meters.flatMap((m) => {
      const r = genesisRecipientKeys(m);
      return r ? [[m.id, r] as const] : [];
    }));
  }

  /**
   * The period key transaction to publish before a reading at `time`, when that reading
   * starts a period this meter has no key for yet (undefined otherwise).
   */
  periodKeyFor(time: number): Uint8Array | undefined {
    const period = keyPeriodOf(this.genesis, time);
    if (this.current?.period === period) return undefined;
    const periodKey = newPeriodKey(cryptoRandom);
    const body = sealPeriodKey({ chainId: this.genesis.chainId, meterId: this.meterId, period, time, periodKey, recipients: this.recipients, random: cryptoRandom });
    this.current = periodKeySchedule(periodKey, this.meterId, period);
    return signPayload(this.genesis.chainId, this.key, encodePeriodKeyBody(body));
  }

  /** The sealed reading's transaction bytes, under the key of the last periodKeyFor. */
  seal(reading: Reading): Uint8Array {
    if (!this.current || this.current.period !== keyPeriodOf(this.genesis, reading.time)) throw new TypeError(`no period key of ${this.meterId} for time ${reading.time}: call periodKeyFor first`);
    return signPayload(this.genesis.chainId, this.key, encodeSealedReadingBody(sealReading(this.genesis.chainId, this.current, reading)));
  }
}
