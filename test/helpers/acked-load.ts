/**
 * QoS 1 load that remembers what was promised: each meter publishes rising sequence
 * numbers with up to `inFlight` unacknowledged, and every (meter, seq) that got a PUBACK
 * is kept. Then: which of those the gateway has not committed (yet). For the crash tests.
 */
import { type GatewayProcess, committedSeqs } from './gateway-process.js';
import type { TestMeter } from './mqtt-meter.js';
import { sleep } from './until.js';

export interface AckedLoad {
  /** Acknowledged sequence numbers per meter id, in acknowledgement order. */
  readonly acked: Map<string, bigint[]>;
  /** Acknowledged readings so far, over all meters. */
  total(): number;
  /** Stop publishing and wait (at most `drainMs`) for the answers still due. */
  stop(drainMs?: number): Promise<void>;
}

export function startAckedLoad(meters: readonly TestMeter[], inFlight: number): AckedLoad {
  const acked = new Map<string, bigint[]>(meters.map((m) => [m.meterId, []]));
  let loading = true;
  const loops = meters.map(async (m) => {
    let seq = 0n;
    const pending = new Set<Promise<void>>();
    while (loading) {
      const s = ++seq;
      const p: Promise<void> = m.publish(s).then(
        () => void acked.get(m.meterId)!.push(s),
        () => {}, // not acknowledged: nothing promised
      ).finally(() => pending.delete(p));
      pending.add(p);
      if (pending.size >= inFlight) await Promise.race([...pending, sleep(2000)]);
    }
    return pending;
  });
  return {
    acked,
    total: () => [...acked.values()].reduce((n, l) => n + l.length, 0),
    async stop(drainMs = 20_000) {
      loading = false;
      const pending = await Promise.all(loops);
      await Promise.race([Promise.all(pending.flatMap((s) => [...s])), sleep(drainMs)]);
    },
  };
}

/** The acknowledged readings (`meter/seq`) not committed by `gw` once `ms` have passed (or none, as soon as none are). */
export async function uncommitted(gw: GatewayProcess, acked: ReadonlyMap<string, readonly bigint[]>, ms = 60_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const missing: string[] = [];
    for (const [id, seqs] of acked) {
      const have = await committedSeqs(gw, id);
      for (const s of seqs) if (!have.has(s.toString())) missing.push(`${id}/${s}`);
    }
    if (!missing.length || Date.now() >= deadline) return missing;
    await sleep(500);
  }
}
