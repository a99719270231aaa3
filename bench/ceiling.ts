/**
 * The verify ceiling: native signature verifications per second with one worker thread
 * per core (node:crypto, OpenSSL), on messages shaped like a reading's Sig_structure.
 * Everything the gateway does per reading is measured against this figure.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export type CeilingAlg = 'Ed25519' | 'P-256';

function spin(alg: CeilingAlg, ms: number): number {
  const { publicKey, privateKey } = alg === 'Ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const msgs = Array.from({ length: 256 }, (_, i) => Buffer.from(`["Signature1",h'a10127',h'',h'a6016a6d657465722d30303031021b${i.toString(16).padStart(16, '0')}031b0000019',h'']`));
  const hash = alg === 'Ed25519' ? null : 'sha256';
  const opt = alg === 'Ed25519' ? publicKey : { key: publicKey, dsaEncoding: 'ieee-p1363' as const };
  const sigs = msgs.map((m) => sign(hash, m, alg === 'Ed25519' ? privateKey : { key: privateKey, dsaEncoding: 'ieee-p1363' }));
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++, n++) if (!verify(hash, msgs[n & 255]!, opt, sigs[n & 255]!)) throw new Error('verify failed');
  }
  return n;
}

if (!isMainThread && workerData?.ceiling) {
  const { alg, ms } = workerData as { alg: CeilingAlg; ms: number };
  parentPort!.postMessage(spin(alg, ms));
}

/** Verifications per second over all cores (one worker each), measured once for `ms`. */
async function ceilingOnce(alg: CeilingAlg, ms: number, workers: number): Promise<number> {
  const counts = await Promise.all(Array.from({ length: workers }, () => new Promise<number>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { ceiling: true, alg, ms } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  return Math.round(counts.reduce((a, b) => a + b, 0) / (ms / 1000));
}

/** Each of the ceiling's measurements, ms (BENCH_CEILING_MS; the CI smoke takes a few hundred). */
const CEILING_MS = Number(process.env.BENCH_CEILING_MS ?? 2000);

/**
 * The ceiling: the best of `tries` measurements of `ms` each. On a shared VM a neighbour
 * can take a share of the cores during one window (one run measured 10,133/s where the
 * others measured 15-18k/s); the best window is closest to what the cores can do, and
 * makes the ratios against it conservative.
 */
export async function verifyCeiling(alg: CeilingAlg, ms = CEILING_MS, workers = availableParallelism(), tries = 3): Promise<number> {
  let best = 0;
  for (let i = 0; i < tries; i++) best = Math.max(best, await ceilingOnce(alg, ms, workers));
  return best;
}
