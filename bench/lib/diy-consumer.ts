/**
 * The do-it-yourself stack's consumer (issue 15's comparison, bench/compare.ts): what a user
 * would write beside Debian's mosquitto instead of running meterledger. One mqtt.js client,
 * subscribed to every meter's readings at QoS 1; for each reading it takes the meter id from
 * the topic, decodes the COSE_Sign1 envelope (no schema, no canonical check), verifies the
 * signature over its Sig_structure with node:crypto against the meter's key from genesis,
 * and appends the reading to one file; the file is fsynced every FSYNC_MS. It checks
 * nothing else (no sequence, no replay, no time) and makes no block or receipt.
 *
 * mqtt.js handles incoming packets one at a time and sends the PUBACK when the handler is
 * done, so holding the PUBACK until the fsync would let one reading through per fsync: like
 * most such consumers it acknowledges mosquitto on receipt, before its own fsync (a crash
 * loses up to FSYNC_MS of readings; the gateway acknowledges a meter after its write-ahead).
 *
 * Only so the bench can close its loop on durability: after each fsync the consumer
 * publishes, once per batch, the SHA-256 of every reading it made durable, concatenated, on
 * DURABLE_TOPIC. Run as a child process: { start } in, { started } out; 'stop' in, its
 * counts out.
 */
import mqtt from 'mqtt';
import { type KeyObject, createHash, createPublicKey, verify } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { decode, encode } from 'cborg';
import type { TagDecoder } from 'cborg/interface';

export const DURABLE_TOPIC = 'bench/durable';
export const FSYNC_MS = 10;

export interface ConsumerStart {
  readonly mqttUrl: string;
  /** genesis.json of the dev chain the meters' keys come from. */
  readonly genesisFile: string;
  /** The file readings are appended to. */
  readonly file: string;
}

export interface ConsumerCounts {
  readonly received: number;
  readonly verified: number;
  readonly badSignature: number;
  readonly undecodable: number;
  readonly unknownMeter: number;
  readonly durable: number;
  readonly fsyncs: number;
  readonly bytesWritten: number;
  readonly cpuS: number;
}

/** An Ed25519 or P-256 public key from its raw hex in genesis. */
function keyOf(alg: string, hex: string): { key: KeyObject; hash: string | null } {
  const raw = Buffer.from(hex, 'hex');
  if (alg === 'Ed25519') return { key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' }), hash: null };
  // SEC1 point (compressed or not): wrap it in a SubjectPublicKeyInfo.
  const spkiPrefix = Buffer.from(raw.length === 33 ? '3039301306072a8648ce3d020106082a8648ce3d030107032200' : '3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
  return { key: createPublicKey({ key: Buffer.concat([spkiPrefix, raw]), format: 'der', type: 'spki' }), hash: 'sha256' };
}

export async function startConsumer(o: ConsumerStart): Promise<{ stop(): Promise<ConsumerCounts> }> {
  const genesis = JSON.parse(readFileSync(o.genesisFile, 'utf8')) as { chainId: string; meters: { id: string; alg: string; publicKey: string }[] };
  const aad = Buffer.from(genesis.chainId, 'utf8');
  const keys = new Map(genesis.meters.map((m) => [m.id, keyOf(m.alg, m.publicKey)]));
  const fd = openSync(o.file, 'a');
  const c = { received: 0, verified: 0, badSignature: 0, undecodable: 0, unknownMeter: 0, durable: 0, fsyncs: 0, bytesWritten: 0 };
  const cpu0 = process.cpuUsage();
  let pending: Buffer[] = [];
  let hashes: Buffer[] = [];
  let lastFlush = performance.now();
  const tags: TagDecoder[] = [];
  tags[18] = (inner) => inner(); // COSE_Sign1_Tagged: the array inside

  const client = mqtt.connect(o.mqttUrl, { protocolVersion: 4, clientId: 'diy-consumer', clean: true, reconnectPeriod: 0, keepalive: 60 });
  client.on('message', (topic, payload) => {
    c.received++;
    const meterId = topic.split('/')[1]!;
    const k = keys.get(meterId);
    if (!k) {
      c.unknownMeter++;
      return;
    }
    let sigStructure: Uint8Array;
    let signature: Uint8Array;
    try {
      const [prot, , body, sig] = decode(payload, { tags }) as [Uint8Array, unknown, Uint8Array, Uint8Array];
      sigStructure = encode(['Signature1', prot, aad, body]);
      signature = sig;
    } catch {
      c.undecodable++;
      return;
    }
    if (!verify(k.hash, sigStructure, k.hash ? { key: k.key, dsaEncoding: 'ieee-p1363' } : k.key, signature)) {
      c.badSignature++;
      return;
    }
    c.verified++;
    // One line per reading: meter id and the signed bytes in base64.
    pending.push(Buffer.from(`${meterId} ${payload.toString('base64')}\n`));
    hashes.push(createHash('sha256').update(payload).digest());
    // Under load the socket's data keeps the event loop busy and a timer alone fires late
    // (17 fsyncs in 10 s in a first run): the batch is closed here once FSYNC_MS has passed.
    if (performance.now() - lastFlush >= FSYNC_MS) flush();
  });
  const flush = (): void => {
    lastFlush = performance.now();
    if (pending.length === 0) return;
    const buf = Buffer.concat(pending);
    const done = Buffer.concat(hashes);
    const n = hashes.length;
    pending = [];
    hashes = [];
    writeSync(fd, buf);
    fsyncSync(fd);
    c.fsyncs++;
    c.bytesWritten += buf.length;
    c.durable += n;
    client.publish(DURABLE_TOPIC, done, { qos: 1 });
  };
  const timer = setInterval(flush, FSYNC_MS);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync('meters/+/readings', { qos: 1 });
  return {
    async stop() {
      clearInterval(timer);
      flush();
      await client.endAsync();
      closeSync(fd);
      const u = process.cpuUsage(cpu0);
      return { ...c, cpuS: Math.round(((u.user + u.system) / 1e6) * 100) / 100 };
    },
  };
}

if (process.send) {
  let running: { stop(): Promise<ConsumerCounts> } | undefined;
  process.on('message', (m: { start?: ConsumerStart; stop?: true }) => {
    if (m.start) {
      startConsumer(m.start).then((r) => {
        running = r;
        process.send!({ started: true });
      }, (e: unknown) => process.send!({ error: String((e as Error).stack ?? e) }, () => process.exit(1)));
    }
    if (m.stop) void running?.stop().then((counts) => process.send!({ counts }, () => process.exit(0)));
  });
  process.on('disconnect', () => process.exit(0));
}
