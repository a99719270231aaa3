/**
 * Evidence: two different messages one validator signed for one height, round and step.
 * Kept (store `E` keys) for the consortium to act on; there is no slashing. A record is
 * JSON: {first, second, at}, each message with its signature in hex.
 */
import { toHex } from '../../protocols/index.js';
import type { Logger } from '../api.js';
import type { NodeMetrics } from '../metrics.js';
import type { BlockValue } from './messages.js';
import type { ConsensusMessage } from './types.js';

type Message = ConsensusMessage<BlockValue>;

export function encodeEvidence(a: Message, b: Message, atMs: number): Uint8Array {
  const view = (m: Message) => {
    const signature = (m as { signature?: Uint8Array }).signature;
    const body = m.type === 'proposal' ? { type: m.type, from: m.from, height: m.height, round: m.round, valueId: m.valueId } : { ...m };
    return { ...body, signature: signature ? toHex(signature) : undefined };
  };
  return new TextEncoder().encode(JSON.stringify({ first: view(a), second: view(b), at: new Date(atMs).toISOString() }));
}

/** Report and keep evidence; a failed write is logged (evidence is for people, not for safety). */
export async function recordEvidence(
  a: Message, b: Message, atMs: number, put: (bytes: Uint8Array) => Promise<void>, metrics: Pick<NodeMetrics, 'evidence'>, logger: Logger,
): Promise<void> {
  metrics.evidence();
  logger.warn({ validator: a.from, height: a.height, round: a.round, type: a.type }, 'double signing detected; evidence kept');
  try {
    await put(encodeEvidence(a, b, atMs));
  } catch (err) {
    logger.error({ err, validator: a.from, height: a.height }, 'evidence could not be stored');
  }
}
