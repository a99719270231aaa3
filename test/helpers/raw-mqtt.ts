/** Raw MQTT 3.1.1 bytes, for clients cheaper (10,000 idle meters) or ruder (garbage, floods) than mqtt.js. */

/** §1.5.3 UTF-8 string (or bytes) with a 2-byte length. */
export const mqttString = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
};
const str = mqttString;

/** §2.2.3 Remaining Length, variable-length encoded. */
export function remainingLength(n: number): Buffer {
  const out = [];
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    out.push(d);
  } while (n > 0);
  return Buffer.from(out);
}

export const rawPacket = (first: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);

/** §3.1 CONNECT with username and password, CleanSession 0, keep-alive 0. */
export const connectPacket = (clientId: string, username: string, password: string | Buffer): Buffer =>
  rawPacket(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0xc0, 0, 0]), str(clientId), str(username), str(password)]));

/** §3.8 SUBSCRIBE, one filter, QoS 1. */
export const subscribePacket = (id: number, filter: string): Buffer => rawPacket(0x82, Buffer.concat([Buffer.from([id >> 8, id & 255]), str(filter), Buffer.from([1])]));

/** §3.3 PUBLISH QoS 1. */
export const publishPacket = (id: number, topic: string, payload: Buffer): Buffer => rawPacket(0x32, Buffer.concat([str(topic), Buffer.from([id >> 8, id & 255]), payload]));
