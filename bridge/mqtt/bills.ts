/**
 * Billing over MQTT (docs/protocol.md §8.7): a meter's payment on `meters/<id>/payments`
 * goes to the intake like a reading (acknowledged after durable accept, not acknowledged
 * when the gateway is busy), and what becomes of it, like each committed bill of the
 * meter, is published on `meters/<id>/bills`. Pure of MQTT I/O but for publishToBills.
 */
import type { Aedes, PublishPacket } from 'aedes';
import { type BillsTopicMessage, type PaymentMessage, billsTopic, encodeBillsTopicMessage } from '../../protocols/bills-topic.js';
import { ReasonCode } from '../../protocols/errors.js';
import { sha256 } from '../../protocols/hash.js';
import type { IntakePort } from '../../protocols/intake.js';
import { decodeAnyTx } from '../../protocols/tx.js';

export type PaymentOutcome =
  /** Acknowledge; publish `refusal` on the bills topic first when present. */
  | { readonly ack: true; readonly refusal?: PaymentMessage }
  /** Do not acknowledge (E_GATEWAY_BUSY): the meter must retransmit. */
  | { readonly ack: false; readonly refusal: PaymentMessage };

/** The period a payment names, when its bytes decode (for the refusal message). */
function periodOf(payload: Uint8Array): string | undefined {
  try {
    const b = decodeAnyTx(payload, Infinity).body;
    return 'period' in b ? b.period : undefined;
  } catch {
    return undefined;
  }
}

export function paymentRefusal(meterId: string, payload: Uint8Array, code: ReasonCode, message: string, txHash: Uint8Array = sha256(payload)): PaymentMessage {
  const period = periodOf(payload);
  return { kind: 'payment', status: 'refused', meterId, ...(period !== undefined ? { period } : {}), code, message, txHash };
}

export async function submitPayment(
  intake: Pick<IntakePort, 'submit'>, meterId: string, payload: Uint8Array, maxPayloadBytes: number,
): Promise<PaymentOutcome> {
  if (payload.length > maxPayloadBytes) {
    return { ack: true, refusal: paymentRefusal(meterId, payload, ReasonCode.TOO_LARGE, `payment of ${payload.length} bytes exceeds ${maxPayloadBytes}`) };
  }
  let result;
  try {
    result = await intake.submit(payload, { meterId, transport: 'mqtt', purpose: 'payment' });
  } catch (e) {
    return { ack: false, refusal: paymentRefusal(meterId, payload, ReasonCode.BUSY, `intake failed: ${(e as Error).message}`) };
  }
  // Accepted: the outcome ("paid") goes out when its block is committed.
  if (result.status === 'accepted') return { ack: true };
  const refusal = paymentRefusal(meterId, payload, result.code, result.message, result.txHash);
  return result.code === ReasonCode.BUSY ? { ack: false, refusal } : { ack: true, refusal };
}

/** Publish on a meter's bills topic, QoS 1 (queued for its persistent sessions). */
export function publishToBills(aedes: Aedes, meterId: string, m: BillsTopicMessage): Promise<void> {
  const payload = encodeBillsTopicMessage(m);
  const packet: PublishPacket = {
    cmd: 'publish', topic: billsTopic(meterId), payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), qos: 1, retain: false, dup: false,
  };
  return new Promise((resolve, reject) => aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
}
