/**
 * One PUBLISH on a readings topic, decided: hand it to the intake and say whether the
 * broker may acknowledge it and what, if anything, goes to the meter's receipts topic.
 * Pure of MQTT I/O so the QoS rules can be tested without a socket.
 */
import { sha256 } from '../../protocols/hash.js';
import { ReasonCode } from '../../protocols/errors.js';
import type { IntakePort } from '../../protocols/intake.js';
import type { ReceiptsTopicMessage } from '../../protocols/mqtt.js';

export type ReadingOutcome =
  /** Acknowledge (PUBACK / PUBREC); publish `rejection` on receipts first when present. */
  | { readonly ack: true; readonly rejection?: ReceiptsTopicMessage; readonly byBridge?: boolean }
  /** Do not acknowledge: the gateway cannot take it now; the meter must retransmit. */
  | { readonly ack: false; readonly rejection: ReceiptsTopicMessage; readonly byBridge?: boolean };

const rejection = (payload: Uint8Array, code: ReasonCode, message: string): ReceiptsTopicMessage => ({
  status: 'rejected', txHash: sha256(payload), code, message,
});

/** A meter's PUBLISH on another meter's readings topic (`topicMeterId`) or on any other topic. */
export function wrongMeterRejection(payload: Uint8Array, meterId: string, topicMeterId: string | undefined, topic: string): ReceiptsTopicMessage {
  return rejection(payload, ReasonCode.WRONG_METER, topicMeterId !== undefined
    ? `meter ${meterId} may not publish readings of meter ${topicMeterId}`
    : `meter ${meterId} may publish only to meters/${meterId}/readings, not to ${JSON.stringify(topic)}`);
}

export function busyRejection(payload: Uint8Array, message: string): ReceiptsTopicMessage {
  return rejection(payload, ReasonCode.BUSY, message);
}

export async function submitReading(
  intake: Pick<IntakePort, 'submit'>, meterId: string, payload: Uint8Array, maxPayloadBytes: number,
): Promise<ReadingOutcome> {
  if (payload.length > maxPayloadBytes) {
    return { ack: true, byBridge: true, rejection: rejection(payload, ReasonCode.TOO_LARGE, `reading of ${payload.length} bytes exceeds ${maxPayloadBytes}`) };
  }
  let result;
  try {
    result = await intake.submit(payload, { meterId, transport: 'mqtt' });
  } catch (e) {
    // The port promises never to reject; if it does, nothing is durable: do not ack.
    return { ack: false, byBridge: true, rejection: busyRejection(payload, `intake failed: ${(e as Error).message}`) };
  }
  if (result.status === 'accepted') return { ack: true };
  const msg: ReceiptsTopicMessage = {
    status: 'rejected', txHash: result.txHash, code: result.code, message: result.message,
    ...(result.seq !== undefined ? { seq: result.seq } : {}),
  };
  // BUSY is "try later": withholding the ack makes the client retransmit it.
  // RATE_LIMITED is acked: disconnecting would invite an immediate resend loop.
  return result.code === ReasonCode.BUSY ? { ack: false, rejection: msg } : { ack: true, rejection: msg };
}
