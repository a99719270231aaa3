/** A meter on real MQTT (mqtt.js, MQTT 3.1.1, QoS 1) using its key file, for tests. */
import mqtt, { type MqttClient } from 'mqtt';
import { type Genesis, type Receipt, type ReceiptRequest, TxType, decodeReceiptsTopicMessage, encodeReceiptRequest, makeConnectToken, readingsTopic, receiptRequestTopic, receiptsTopic, signTx } from '../../protocols/index.js';
import type { ReceiptsTopicMessage } from '../../protocols/index.js';
import type { KeyPair } from '../../ledger-node/keyfile.js';

export class TestMeter {
  readonly messages: ReceiptsTopicMessage[] = [];
  /** The receipts topic's payloads as received, in order (sizes). */
  readonly payloads: Uint8Array[] = [];
  private constructor(readonly meterId: string, readonly client: MqttClient, private readonly key: KeyPair, private readonly chainId: string) {}

  static async connect(url: string, genesis: Genesis, meterId: string, key: KeyPair, opts: { reconnectPeriod?: number } = {}): Promise<TestMeter> {
    const token = () => makeConnectToken(genesis.chainId, meterId, meterId, Date.now(), key.alg, key.secretKey);
    const client = mqtt.connect(url, {
      protocolVersion: 4, clientId: meterId, username: meterId, password: token(), clean: false,
      reconnectPeriod: opts.reconnectPeriod ?? 200, connectTimeout: 5000,
    });
    client.on('reconnect', () => {
      client.options.password = token(); // a fresh token per connection attempt
    });
    client.on('error', () => {});
    const m = new TestMeter(meterId, client, key, genesis.chainId);
    client.on('message', (_t, payload) => {
      m.payloads.push(new Uint8Array(payload));
      try {
        m.messages.push(decodeReceiptsTopicMessage(new Uint8Array(payload)));
      } catch {
        /* counted by the test as missing */
      }
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${meterId}: no CONNACK`)), 10_000);
      client.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
    });
    await client.subscribeAsync(receiptsTopic(meterId), { qos: 1 });
    return m;
  }

  sign(seq: bigint, importWh = Number(seq % 1_000_000n), fields: { time?: number; exportWh?: number } = {}): Uint8Array {
    return signTx(this.chainId, this.key.alg, this.key.secretKey, {
      type: TxType.Reading, meterId: this.meterId, seq, time: fields.time ?? Date.now(), importWh,
      ...(fields.exportWh !== undefined ? { exportWh: fields.exportWh } : {}),
    });
  }

  /** Publish at QoS 1; resolves on PUBACK. */
  async publish(seq: bigint, reading?: { importWh: number; time?: number; exportWh?: number }): Promise<void> {
    const bytes = reading ? this.sign(seq, reading.importWh, reading) : this.sign(seq);
    await this.client.publishAsync(readingsTopic(this.meterId), Buffer.from(bytes), { qos: 1 });
  }

  /** A reading every `ms`, seq 1 up, the register following the clock (100 Wh a second); clearInterval stops it. */
  reportEvery(ms = 400): NodeJS.Timeout {
    let seq = 0n;
    return setInterval(() => {
      const now = Date.now();
      void this.publish(++seq, { importWh: Math.floor(now / 10), time: now }).catch(() => {});
    }, ms);
  }

  /** Ask on meters/<id>/receipts/get (docs/protocol.md §8.3.2); resolves with the next answer on the receipts topic. */
  async request(q: ReceiptRequest, topicMeterId = this.meterId, timeoutMs = 15_000): Promise<ReceiptsTopicMessage> {
    const from = this.messages.length;
    await this.client.publishAsync(receiptRequestTopic(topicMeterId), Buffer.from(encodeReceiptRequest(q)), { qos: 1 });
    const until = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.messages.slice(from).find((x) => x.status === 'rejected' || x.receipt !== undefined);
      if (answer) return answer;
      if (Date.now() > until) throw new Error(`${this.meterId}: no answer to a receipt request within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The full receipt of reading `seq`, asked for over MQTT. */
  async fullReceipt(seq: bigint, timeoutMs = 15_000): Promise<Receipt> {
    const a = await this.request({ seq }, this.meterId, timeoutMs);
    if (a.status !== 'committed' || !a.receipt || a.seq !== seq) throw new Error(`${this.meterId}: receipt request for ${seq} answered ${a.status === 'rejected' ? a.code : 'another seq'}`);
    return a.receipt;
  }

  committedSeqs(): Set<bigint> {
    return new Set(this.messages.filter((m) => m.status === 'committed').map((m) => m.seq!));
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
