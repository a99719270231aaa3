/**
 * Shared pieces of the MQTT tests: start a broker on 127.0.0.1 with ephemeral ports,
 * connect mqtt.js meters with connect tokens, and speak raw MQTT 3.1.1 bytes
 * (§2 fixed header, §3 packets) where a well-behaved client library would refuse to.
 */
import { once } from 'node:events';
import { type Socket, connect as netConnect } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import { MqttBroker, type MqttBrokerOptions } from '../../../bridge/mqtt/index.js';
import { makeConnectToken } from '../../../protocols/mqtt.js';
import { FakeIntake } from '../../helpers/fake-intake.js';
import { mqttString, rawPacket, remainingLength } from '../../helpers/raw-mqtt.js';

export const HOST = '127.0.0.1';

export async function startBroker(intake: FakeIntake, extra: Partial<MqttBrokerOptions> = {}): Promise<MqttBroker> {
  return MqttBroker.start({ intake, tcp: { host: HOST, port: 0 }, ...extra });
}

export function tokenFor(intake: FakeIntake, meterId: string, clientId: string, timeMs = Date.now()): string {
  const m = intake.meters.get(meterId)!;
  return makeConnectToken(intake.chainId, meterId, clientId, timeMs, m.alg, m.secretKey);
}

export const baseOptions: IClientOptions = { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000, keepalive: 30 };

/** An mqtt.js meter client on plain TCP with a fresh token. */
export function connectMeter(port: number, intake: FakeIntake, meterId: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const clientId = extra.clientId ?? `${meterId}-c`;
  return mqtt.connectAsync(`mqtt://${HOST}:${port}`, {
    ...baseOptions, clientId, username: meterId, password: tokenFor(intake, meterId, clientId), ...extra,
  });
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
  clientId: string;
  clean?: boolean;
  username?: string;
  password?: string;
  protocolLevel?: number;
  keepalive?: number;
}

/** §3.1 CONNECT; protocolLevel 5 adds an empty MQTT 5 property block. */
export function connectPacket(c: RawConnect): Buffer {
  const level = c.protocolLevel ?? 4;
  let flags = c.clean === false ? 0 : 0x02;
  if (c.username !== undefined) flags |= 0x80;
  if (c.password !== undefined) flags |= 0x40;
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(c.keepalive ?? 30);
  const parts = [mqttString('MQTT'), Buffer.of(level, flags), ka];
  if (level === 5) parts.push(Buffer.of(0)); // property length 0
  parts.push(mqttString(c.clientId));
  if (c.username !== undefined) parts.push(mqttString(c.username));
  if (c.password !== undefined) parts.push(mqttString(c.password));
  return packet(0x10, Buffer.concat(parts));
}

/** §3.3 PUBLISH; `dup` sets the DUP flag of a retransmission (§3.3.1.1). */
export function publishPacket(topic: string, payload: Uint8Array, qos: 0 | 1 | 2 = 0, messageId = 1, dup = false): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return packet(0x30 | (dup ? 0x08 : 0) | (qos << 1), Buffer.concat([mqttString(topic), qos > 0 ? id : Buffer.alloc(0), Buffer.from(payload)]));
}

/** §3.8 SUBSCRIBE. */
export function subscribePacket(messageId: number, filters: [string, number][]): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return packet(0x82, Buffer.concat([id, ...filters.map(([f, q]) => Buffer.concat([mqttString(f), Buffer.of(q)]))]));
}

export interface RawPacket {
  readonly type: number;
  readonly flags: number;
  readonly body: Buffer;
}

/** A socket speaking raw MQTT: send bytes, read whole packets, see the close. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private readonly packets: RawPacket[] = [];
  private waiter: (() => void) | undefined;
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(readonly socket: Socket) {
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

  static async connect(port: number): Promise<RawClient> {
    const s = netConnect(port, HOST);
    await once(s, 'connect');
    return new RawClient(s);
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

  /** Resolves true if the server closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const PacketType = { CONNACK: 2, PUBLISH: 3, PUBACK: 4, PUBREC: 5, SUBACK: 9 } as const;

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
