/**
 * The live feed (GET /api/v1/events, server-sent events): receipts as they commit. The
 * browser's EventSource resumes with Last-Event-ID by itself after a dropped connection;
 * when the server refuses or closes for good, this reopens it from the last seq seen.
 */
import { fromHex } from '../../../protocols/bytes.js';

export interface LiveHandlers {
  receipt(seq: bigint, bytes: Uint8Array): void;
  /** The server could not replay everything missed: reload over the API. */
  refetch(latestSeq: bigint): void;
  state(s: 'live' | 'reconnecting'): void;
}

export function openLive(meterId: string, afterSeq: bigint, on: LiveHandlers): () => void {
  let last = afterSeq;
  let es: EventSource | undefined;
  let timer: number | undefined;
  let stopped = false;
  const open = (): void => {
    es = new EventSource(`/api/v1/events?meter=${encodeURIComponent(meterId)}&after=${last}`);
    es.onopen = () => on.state('live');
    es.onerror = () => {
      on.state('reconnecting');
      if (es?.readyState === EventSource.CLOSED && !stopped) {
        timer = window.setTimeout(open, 2000);
      }
    };
    es.addEventListener('receipt', (ev) => {
      const e = JSON.parse((ev as MessageEvent<string>).data) as { seq: string; receipt: string };
      const seq = BigInt(e.seq);
      if (seq > last) last = seq;
      on.receipt(seq, fromHex(e.receipt, 'receipt'));
    });
    es.addEventListener('refetch', (ev) => {
      const e = JSON.parse((ev as MessageEvent<string>).data) as { latestSeq: string };
      last = BigInt(e.latestSeq);
      on.refetch(last);
    });
  };
  open();
  return () => {
    stopped = true;
    es?.close();
    if (timer !== undefined) clearTimeout(timer);
  };
}
