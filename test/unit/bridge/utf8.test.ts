/**
 * [MQTT-1.5.3-1], [MQTT-1.5.3-2]: a packet whose client id, user name, will topic, topic
 * name or topic filter is ill-formed UTF-8 or holds U+0000 closes the connection. Before,
 * mqtt-packet decoded such bytes to U+FFFD, so distinct byte strings became one name.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MqttBroker } from '../../../bridge/mqtt/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { PacketType, RawClient, connectPacket, publishPacket, subscribePacket, unsubscribePacket } from '../../helpers/mqtt-client.js';

const T = { timeout: 10_000 };
const bytes = (text: string, ...tail: number[]): Buffer => Buffer.concat([Buffer.from(text), Buffer.from(tail)]);

describe('ill-formed UTF-8 and U+0000 close the connection', { timeout: 60_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;
  const raws: RawClient[] = [];
  const raw = (): RawClient => {
    const r = RawClient.over(broker);
    raws.push(r);
    return r;
  };
  const connected = async (clientId: string): Promise<RawClient> => {
    const r = raw();
    r.send(connectPacket({ clientId }));
    assert.equal((await r.connack()).returnCode, 0);
    return r;
  };

  before(async () => {
    intake = await TestIntake.open(['m1']);
    broker = await MqttBroker.create({ intake, allowAnonymous: true });
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await broker.close();
    await intake.close();
  });

  test('[MQTT-1.5.3-1] a client id with 0xFF gets no CONNACK, just the close', T, async () => {
    const r = raw();
    r.send(connectPacket({ clientId: bytes('dev', 0xff) }));
    assert.equal(await r.next(), undefined);
  });

  test('[MQTT-1.5.3-2] a user name with U+0000 gets no CONNACK, just the close', T, async () => {
    const r = raw();
    r.send(connectPacket({ clientId: 'dev', username: bytes('m1', 0x00), password: 'x' }));
    assert.equal(await r.next(), undefined);
  });

  test('[MQTT-1.5.3-1] a will topic with a surrogate (ED A0 80) gets no CONNACK', T, async () => {
    const r = raw();
    r.send(connectPacket({ clientId: 'dev', will: { topic: bytes('lwt/', 0xed, 0xa0, 0x80) } }));
    assert.equal(await r.next(), undefined);
  });

  test('[MQTT-1.5.3-1] a PUBLISH whose topic is ill-formed closes the connection and reaches no subscriber', T, async () => {
    const sub = await connected('listener');
    sub.send(subscribePacket(1, [['news/#', 1]]));
    assert.equal((await sub.next())?.type, PacketType.SUBACK);
    const pub = await connected('talker');
    pub.send(publishPacket(bytes('news/', 0xc0, 0x80), Buffer.from('collapsed'), 1, 2));
    assert.equal(await pub.next(), undefined, 'no PUBACK, the close');
    // A well-formed one after it is delivered, and it is the first thing the subscriber sees.
    const ok = await connected('talker2');
    ok.send(publishPacket('news/ok', Buffer.from('fine'), 1, 3));
    assert.equal((await ok.next())?.type, PacketType.PUBACK);
    const got = await sub.next();
    assert.equal(got?.type, PacketType.PUBLISH);
    assert.match(got!.body.toString('latin1'), /news\/ok/);
  });

  test('[MQTT-1.5.3-1] distinct ill-formed filters no longer collapse into one U+FFFD subscription', T, async () => {
    const a = await connected('collapse-a');
    a.send(subscribePacket(1, [[bytes('c/', 0xfe), 1]]));
    assert.equal(await a.next(), undefined, 'no SUBACK, the close');
  });

  test('[MQTT-1.5.3-2] an UNSUBSCRIBE filter with U+0000 closes the connection', T, async () => {
    const a = await connected('unsub');
    a.send(unsubscribePacket(3, [bytes('c/', 0x00, 0x61)]));
    assert.equal(await a.next(), undefined);
  });

  test('well-formed non-ASCII names work', T, async () => {
    const a = await connected('zähler-😀');
    a.send(subscribePacket(1, [['café/+', 1]]));
    assert.equal((await a.next())?.type, PacketType.SUBACK);
    a.send(publishPacket('café/Zähler', Buffer.from('x'), 1, 2));
    const types = [(await a.next())?.type, (await a.next())?.type].sort();
    assert.deepEqual(types, [PacketType.PUBLISH, PacketType.PUBACK].sort());
  });
});
