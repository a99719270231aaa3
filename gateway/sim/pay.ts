/**
 * The simulated meters' side of billing (docs/protocol.md §8.7): each meter takes its bills
 * from `meters/<id>/bills` and pays each one with something due, signing a payment (type 16,
 * no kid) with its own key under its owner's mandate (docs/billing.md §19.3), published on
 * `meters/<id>/payments` at QoS 1; the ledger checks the mandate, caps and funds, and the
 * outcome comes back on the bills topic.
 */
import type { MqttClient } from 'mqtt';
import { LedgerTxType, decodeBillsTopicMessage, formatMinorUnits, paymentsTopic, signTx } from '../../protocols/index.js';
import type { KeyPair } from '../../ledger-node/keyfile.js';
import { publishQos1 } from './meter-client.js';

export interface PaymentTally {
  /** Bills received (each once per meter and period). */
  bills: number;
  /** Payments signed and acknowledged by the gateway. */
  sent: number;
  paid: number;
  /** Paid by autopay at issue: nothing for the meter to do. */
  autopaid: number;
  refusedByCode: Record<string, number>;
  /** Bills paid for but without an outcome yet. */
  readonly open: Set<string>;
}

export const newTally = (): PaymentTally => ({ bills: 0, sent: 0, paid: 0, autopaid: 0, refusedByCode: {}, open: new Set() });

/**
 * Handle one message of a meter's bills topic: pay a new bill with something due, count
 * outcomes. `client` and `key` are the meter's.
 */
export function onBillsMessage(chainId: string, meterId: string, key: KeyPair, client: MqttClient, payload: Uint8Array, tally: PaymentTally, log: (line: string) => void, seen: Set<string>): void {
  let m;
  try {
    m = decodeBillsTopicMessage(payload);
  } catch {
    return;
  }
  if (m.meterId !== meterId) return;
  if (m.kind === 'bill') {
    const id = `${meterId}/${m.period}`;
    if (seen.has(id)) return; // a redelivery to the persistent session
    seen.add(id);
    tally.bills++;
    log(`${meterId}: bill ${m.period} ${formatMinorUnits(Number(m.total), m.minorUnits)} ${m.currency}${m.autopay === 'paid' ? ' (autopaid)' : m.total <= 0n ? ' (nothing due)' : ', paying'}`);
    if (m.autopay === 'paid' || m.total <= 0n) return;
    const tx = signTx(chainId, key.alg, key.secretKey, { type: LedgerTxType.Payment, time: Date.now(), meterId, period: m.period, amount: m.total });
    tally.open.add(id);
    publishQos1(client, paymentsTopic(meterId), tx).then(
      () => void tally.sent++,
      (e: unknown) => log(`${meterId}: payment of ${m.period} not acknowledged: ${(e as Error).message}`),
    );
    return;
  }
  const id = m.period !== undefined ? `${meterId}/${m.period}` : undefined;
  if (m.status === 'paid') {
    if (m.by === 'autopay') tally.autopaid++;
    else tally.paid++;
    if (m.by !== 'autopay') log(`${meterId}: bill ${m.period} paid at height ${m.height}`);
    if (id) tally.open.delete(id);
  } else {
    tally.refusedByCode[m.code] = (tally.refusedByCode[m.code] ?? 0) + 1;
    if (id) tally.open.delete(id);
    log(`${meterId}: payment${m.period ? ` of ${m.period}` : ''} refused: ${m.code}`);
  }
}
