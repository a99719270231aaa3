/**
 * MQTT test clients that need no socket of their own: mqtt.js and raw-byte clients over
 * any Duplex stream, so the broker's tests can drive it over an in-process stream pair
 * (MqttBroker.handle, as aedes' test/helper.js does), and raw MQTT 3.1.1 bytes (§2 fixed
 * header, §3 packets) where a well-behaved client library would refuse to send them.
 * RawClient.connect() and the integration tests' support.ts add the sockets.
 */
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { type IClientOptions, MqttClient, type Packet } from 'mqtt';
import type { ConnectionInfo, MqttBroker } from '../../bridge/mqtt/index.js';
import { makeConnectToken } from '../../protocols/mqtt.js';
import type { MeterKeys } from './test-intake.js';
import { mqttString, rawPacket, remainingLength } from './raw-mqtt.js';

export function tokenFor(intake: MeterKeys, meterId: string, clientId: string, timeMs = Date.now()): string {
  const m = intake.meters.get(meterId)!;
  return makeConnectToken(intake.chainId, meterId, clientId, timeMs, m.alg, m.secretKey);
}

export const baseOptions: IClientOptions = { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000, keepalive: 30 };

/** Two connected in-process streams: what one writes, the other reads; destroying one ends both. */
export function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex): Duplex => new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      const p = peer();
      if (!p.destroyed) p.push(chunk);
      cb();
    },
    final(cb) {
      const p = peer();
      if (!p.destroyed) p.push(null);
      cb();
    },
    destroy(err, cb) {
      const p = peer();
      if (!p.destroyed) p.destroy();
      cb(err);
    },
  });
  const pair: Duplex[] = [];
  pair.push(make(() => pair[1]!), make(() => pair[0]!));
  return [pair[0]!, pair[1]!];
}

/** An mqtt.js client whose every connection attempt is a fresh stream pair handed to `broker`. */
export function clientOver(broker: MqttBroker, opts: IClientOptions, info: ConnectionInfo = {}): MqttClient {
  return new MqttClient(() => {
    const [client, server] = duplexPair();
    broker.handle(server, info);
    return client;
  }, { ...baseOptions, ...opts });
}

/** clientOver(), resolved on CONNACK 0; rejected with the error (its `code`: the CONNACK return code). */
export function connectOver(broker: MqttBroker, opts: IClientOptions, info: ConnectionInfo = {}): Promise<MqttClient> {
  const c = clientOver(broker, opts, info);
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** A meter with a fresh connect token, over a stream pair. */
export function meterOver(broker: MqttBroker, intake: MeterKeys, meterId: string, extra: IClientOptions = {}, info: ConnectionInfo = {}): Promise<MqttClient> {
  const clientId = extra.clientId ?? meterId;
  return connectOver(broker, { clientId, username: meterId, password: tokenFor(intake, meterId, clientId), ...extra }, info);
}

export async function end(...clients: (MqttClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((c) => c?.endAsync(true).catch(() => undefined)));
}

/** Next message on `topic` (resolves with its payload). */
export function nextMessage(client: MqttClient, topic: string, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(t: string, payload: Buffer): void {
      if (t !== topic) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(payload);
    }
    client.on('message', onMessage);
  });
}

/** Resolves when `p` has not settled within `ms` (true) or has (false). */
export async function staysPending(p: Promise<unknown>, ms: number): Promise<boolean> {
  const marker = Symbol('pending');
  const r = await Promise.race([p.then(() => undefined, () => undefined), new Promise((res) => setTimeout(() => res(marker), ms))]);
  return r === marker;
}

// ---- raw MQTT 3.1.1 encoding ----

export { mqttString, remainingLength };
const packet = rawPacket;

export interface RawConnect {
  /** Strings as text, or as raw bytes (to send what is not UTF-8). */
  clientId: string | Buffer;
  clean?: boolean;
  username?: string | Buffer;
  password?: string;
  protocolLevel?: number;
  keepalive?: number;
  will?: { topic: string | Buffer; payload?: string; qos?: 0 | 1 | 2 };
}

/** §3.1 CONNECT; protocolLevel 5 adds an empty MQTT 5 property block. */
export function connectPacket(c: RawConnect): Buffer {
  const level = c.protocolLevel ?? 4;
  let flags = c.clean === false ? 0 : 0x02;
  if (c.will) flags |= 0x04 | ((c.will.qos ?? 0) << 3);
  if (c.username !== undefined) flags |= 0x80;
  if (c.password !== undefined) flags |= 0x40;
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(c.keepalive ?? 30);
  const parts = [mqttString('MQTT'), Buffer.of(level, flags), ka];
  if (level === 5) parts.push(Buffer.of(0)); // property length 0
  parts.push(mqttString(c.clientId));
  if (c.will) parts.push(mqttString(c.will.topic), mqttString(c.will.payload ?? ''));
  if (c.username !== undefined) parts.push(mqttString(c.username));
  if (c.password !== undefined) parts.push(mqttString(c.password));
  return packet(0x10, Buffer.concat(parts));
}

/** §3.3 PUBLISH; `dup` sets the DUP flag of a retransmission (§3.3.1.1). */
export function publishPacket(topic: string | Buffer, payload: Uint8Array, qos: 0 | 1 | 2 = 0, messageId = 1, dup = false): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return packet(0x30 | (dup ? 0x08 : 0) | (qos << 1), Buffer.concat([mqttString(topic), qos > 0 ? id : Buffer.alloc(0), Buffer.from(payload)]));
}

/** §3.8 SUBSCRIBE. */
export function subscribePacket(messageId: number, filters: [string | Buffer, number][]): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return packet(0x82, Buffer.concat([id, ...filters.map(([f, q]) => Buffer.concat([mqttString(f), Buffer.of(q)]))]));
}

/** §3.10 UNSUBSCRIBE. */
export function unsubscribePacket(messageId: number, filters: (string | Buffer)[]): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return packet(0xa2, Buffer.concat([id, ...filters.map((f) => mqttString(f))]));
}

/** §3.4 PUBACK (and, with 0x50, §3.5 PUBREC). */
export const ackPacket = (messageId: number, first = 0x40): Buffer => packet(first, Buffer.of(messageId >> 8, messageId & 255));

/** The fields of a PUBLISH the server sent (§3.3.1, §3.3.2). */
export function parsePublish(p: RawPacket): { topic: string; qos: number; dup: boolean; retain: boolean; messageId?: number; payload: Buffer } {
  const qos = (p.flags >> 1) & 3;
  const n = p.body.readUInt16BE(0);
  const topic = p.body.subarray(2, 2 + n).toString('utf8');
  const messageId = qos > 0 ? p.body.readUInt16BE(2 + n) : undefined;
  return { topic, qos, dup: (p.flags & 8) !== 0, retain: (p.flags & 1) !== 0, ...(messageId !== undefined ? { messageId } : {}), payload: p.body.subarray(2 + n + (qos > 0 ? 2 : 0)) };
}

export interface RawPacket {
  readonly type: number;
  readonly flags: number;
  readonly body: Buffer;
}

/** A connection speaking raw MQTT: send bytes, read whole packets, see the close. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private readonly packets: RawPacket[] = [];
  private waiter: (() => void) | undefined;
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(readonly socket: Duplex) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.split();
    });
    socket.on('error', () => undefined);
    this.closed = once(socket, 'close').then(() => {
      this.isClosed = true;
      this.waiter?.();
    });
  }

  /** Over TCP to 127.0.0.1:port. */
  static async connect(port: number): Promise<RawClient> {
    const s = netConnect(port, '127.0.0.1');
    await once(s, 'connect');
    return new RawClient(s);
  }

  /** Over an in-process stream pair handed to `broker`. */
  static over(broker: MqttBroker, info: ConnectionInfo = {}): RawClient {
    const [client, server] = duplexPair();
    broker.handle(server, info);
    return new RawClient(client);
  }

  send(b: Buffer): void {
    this.socket.write(b);
  }

  private split(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      let len = 0;
      let mult = 1;
      let i = 1;
      for (;;) {
        if (i >= this.buf.length) return;
        const b = this.buf[i++]!;
        len += (b & 0x7f) * mult;
        mult *= 128;
        if (!(b & 0x80)) break;
      }
      if (this.buf.length < i + len) return;
      this.packets.push({ type: this.buf[0]! >> 4, flags: this.buf[0]! & 0x0f, body: this.buf.subarray(i, i + len) });
      this.buf = this.buf.subarray(i + len);
      this.waiter?.();
    }
  }

  /** The next packet, or undefined if the connection closed first. */
  async next(timeoutMs = 3000): Promise<RawPacket | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.packets.length === 0) {
      if (this.isClosed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.packets.shift();
  }

  /** The next packet, which must be a CONNACK: its return code and Session Present flag (§3.2.2). */
  async connack(timeoutMs = 3000): Promise<{ returnCode: number; sessionPresent: boolean }> {
    const p = await this.next(timeoutMs);
    if (p?.type !== 2) throw new Error(`expected CONNACK, got ${p ? `packet type ${p.type}` : 'the close'}`);
    return { returnCode: p.body[1]!, sessionPresent: (p.body[0]! & 1) === 1 };
  }

  /** §3.12 PINGREQ, resolved at its PINGRESP: everything sent before it has been handled. */
  async ping(timeoutMs = 3000): Promise<void> {
    this.send(Buffer.of(0xc0, 0));
    if ((await this.nextOf(13, timeoutMs)) === undefined) throw new Error('closed before PINGRESP');
  }

  /** The next packet of `type`, skipping others; undefined if the connection closed first. */
  async nextOf(type: number, timeoutMs = 3000): Promise<RawPacket | undefined> {
    for (;;) {
      const p = await this.next(timeoutMs);
      if (!p || p.type === type) return p;
    }
  }

  /** Resolves true if the server closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const PacketType = { CONNACK: 2, PUBLISH: 3, PUBACK: 4, PUBREC: 5, PUBREL: 6, SUBACK: 9, UNSUBACK: 11 } as const;

/** SUBSCRIBE through mqtt.js and return the SUBACK return codes as sent (mqtt.js turns 0x80 into an error). */
export function subackCodes(client: MqttClient, filters: string[], qos: 0 | 1 | 2 = 1): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no SUBACK')), 3000);
    const onPacket = (p: Packet): void => {
      if (p.cmd !== 'suback') return;
      clearTimeout(timer);
      client.off('packetreceive', onPacket);
      resolve(p.granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos)));
    };
    client.on('packetreceive', onPacket);
    client.subscribe(filters, { qos }, () => undefined);
  });
}
