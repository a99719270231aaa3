/**
 * docs/protocol.md §8.1 and §8.2 list what the broker refuses and how; each row is checked
 * here over an in-process stream pair, with raw MQTT 3.1.1 bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MqttBroker, hashPassword } from '../../../bridge/mqtt/index.js';
import { decodeReceiptsTopicMessage, makeConnectToken, readingsTopic, receiptsTopic } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { PacketType, RawClient, type RawConnect, ackPacket, connectPacket, parsePublish, publishPacket, subscribePacket, tokenFor } from '../../helpers/mqtt-client.js';

const T = { timeout: 10_000 };

describe('§8.1 CONNECT refusals and their CONNACK codes', { timeout: 60_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;
  let anonymous: MqttBroker;
  const raws: RawClient[] = [];
  const connack = async (b: MqttBroker, c: RawConnect): Promise<number> => {
    const r = RawClient.over(b);
    raws.push(r);
    r.send(connectPacket(c));
    const { returnCode } = await r.connack();
    if (returnCode !== 0) assert.equal(await r.closedWithin(3000), true, '[MQTT-3.2.2-5] closed after a refusal');
    return returnCode;
  };
  const meter = (clientId: string, over: Partial<RawConnect> = {}): RawConnect => ({ clientId, username: 'm1', password: tokenFor(intake, 'm1', clientId), ...over });

  before(async () => {
    intake = await TestIntake.open(['m1', 'm2', 'gone']);
    await intake.revoke('gone');
    const accounts = [{ username: 'ops', passwordHash: hashPassword('pw'), publish: ['site/#'], subscribe: ['site/#'] }];
    broker = await MqttBroker.create({ intake, accounts });
    anonymous = await MqttBroker.create({ intake, accounts, allowAnonymous: true });
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await broker.close();
    await anonymous.close();
    await intake.close();
  });

  const other = (): string => makeConnectToken(intake.chainId, 'm1', 'm1', Date.now(), intake.meters.get('m2')!.alg, intake.meters.get('m2')!.secretKey);
  const rows: [string, () => [MqttBroker, RawConnect], number][] = [
    ['a valid token', () => [broker, meter('m1')], 0],
    ['[MQTT-3.1.2-2] protocol level 5 (MQTT 5): 1, in the 3.1.1 form', () => [broker, { ...meter('m1'), protocolLevel: 5 }], 1],
    ['[MQTT-3.1.3-8] a zero-length client id with CleanSession 0', () => [broker, meter('', { clean: false })], 2],
    ['a meter with a zero-length client id, even clean', () => [broker, meter('')], 2],
    ['a meter with a valid token for a client id not its own', () => [broker, { clientId: 'm2', username: 'm1', password: tokenFor(intake, 'm1', 'm2') }], 2],
    ['a meter without a password', () => [broker, meter('m1', { password: undefined })], 4],
    ['a password that is not ml1.<time>.<signature>', () => [broker, meter('m1', { password: 'secret' })], 4],
    ['a token older than tokenMaxAgeMs', () => [broker, meter('m1', { password: tokenFor(intake, 'm1', 'm1', Date.now() - 400_000) })], 4],
    ['a token from the future', () => [broker, meter('m1', { password: tokenFor(intake, 'm1', 'm1', Date.now() + 400_000) })], 4],
    ['a token for another client id', () => [broker, meter('m1', { password: tokenFor(intake, 'm1', 'm1/other') })], 4],
    ['a token signed with another key', () => [broker, meter('m1', { password: other() })], 4],
    ['a revoked meter, even with a valid token', () => [broker, { clientId: 'gone', username: 'gone', password: tokenFor(intake, 'gone', 'gone') }], 5],
    ['a user name that is neither a meter nor an account', () => [broker, { clientId: 'nobody', username: 'nobody', password: 'x' }], 4],
    ['an account with a wrong password', () => [broker, { clientId: 'ops', username: 'ops', password: 'pW' }], 4],
    ['an account with its password', () => [broker, { clientId: 'ops/1', username: 'ops', password: 'pw' }], 0],
    ['an account with a meter\'s client id', () => [broker, { clientId: 'm1', username: 'ops', password: 'pw' }], 2],
    ['no user name, anonymous not allowed', () => [broker, { clientId: 'dev' }], 5],
    ['anonymous, allowed', () => [anonymous, { clientId: 'dev' }], 0],
    ['anonymous with a meter\'s client id', () => [anonymous, { clientId: 'm1/x' }], 2],
    ['a meter with a Will', () => [broker, meter('m1', { will: { topic: readingsTopic('m1') } })], 5],
    ['an account with a Will outside its publish filters', () => [broker, { clientId: 'ops', username: 'ops', password: 'pw', will: { topic: 'elsewhere' } }], 5],
    ['an account with a Will inside them', () => [broker, { clientId: 'ops/2', username: 'ops', password: 'pw', will: { topic: 'site/lwt' } }], 0],
  ];
  for (const [what, make, code] of rows) {
    test(`${what}: CONNACK ${code}`, T, async () => {
      const [b, c] = make();
      assert.equal(await connack(b, c), code);
    });
  }

  test('the MQTT 5 refusal is a 3.1.1 CONNACK: 4 bytes, return code 1', T, async () => {
    const r = RawClient.over(broker);
    raws.push(r);
    r.send(connectPacket({ ...meter('m1'), protocolLevel: 5 }));
    const p = await r.next();
    assert.deepEqual([p?.type, p?.body.length, p?.body[1]], [PacketType.CONNACK, 2, 1]);
  });

  test('a meter\'s client id cannot be taken by another meter, ever: the takeover attack of issue 18', T, async () => {
    // Right after a (re)start, m2 tries m1's default client id first: refused, and m1 gets in.
    const fresh = await MqttBroker.create({ intake });
    try {
      assert.equal(await connack(fresh, { clientId: 'm1', username: 'm2', password: tokenFor(intake, 'm2', 'm1') }), 2);
      assert.equal(await connack(fresh, { clientId: 'm1/x', username: 'm2', password: tokenFor(intake, 'm2', 'm1/x') }), 2);
      assert.equal(await connack(fresh, meter('m1')), 0);
      // Ownership does not depend on who came first, nor on a session: m1 gone, m2 still refused.
      assert.equal(await connack(fresh, { clientId: 'm1', username: 'm2', password: tokenFor(intake, 'm2', 'm1') }), 2);
    } finally {
      await fresh.close();
    }
  });
});

describe('§8.2 PUBLISH refusals', { timeout: 60_000 }, () => {
  let intake: TestIntake;
  let broker: MqttBroker;
  const raws: RawClient[] = [];
  const connected = async (c: RawConnect): Promise<RawClient> => {
    const r = RawClient.over(broker);
    raws.push(r);
    r.send(connectPacket(c));
    assert.equal((await r.connack()).returnCode, 0);
    return r;
  };
  before(async () => {
    intake = await TestIntake.open(['m1']);
    broker = await MqttBroker.create({ intake, accounts: [{ username: 'ops', passwordHash: hashPassword('pw'), publish: ['site/#'], subscribe: ['#'] }] });
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await broker.close();
    await intake.close();
  });

  for (const [topic, qos] of [['site/a', 1], ['$SYS/x', 1], ['meters/m2/readings', 2], [receiptsTopic('m1'), 0]] as [string, 0 | 1 | 2][]) {
    test(`a meter publishing on "${topic}" at QoS ${qos} gets E_READING_WRONG_METER on its receipts, its ack, and reaches nobody`, T, async () => {
      const ops = await connected({ clientId: 'ops/watch', username: 'ops', password: 'pw' });
      ops.send(subscribePacket(1, [['#', 1], ['$SYS/#', 1]]));
      await ops.nextOf(PacketType.SUBACK);
      const m = await connected({ clientId: 'm1', username: 'm1', password: tokenFor(intake, 'm1', 'm1') });
      m.send(subscribePacket(1, [[receiptsTopic('m1'), 1]]));
      await m.nextOf(PacketType.SUBACK);
      const n = intake.submitted.length;
      m.send(publishPacket(topic, Buffer.from('not a reading'), qos, 7));
      const rejection = parsePublish((await m.nextOf(PacketType.PUBLISH))!);
      const msg = decodeReceiptsTopicMessage(new Uint8Array(rejection.payload));
      assert.equal(msg.status === 'rejected' && msg.code, 'E_READING_WRONG_METER');
      m.send(ackPacket(rejection.messageId!));
      if (qos > 0) assert.equal((await m.nextOf(qos === 1 ? PacketType.PUBACK : PacketType.PUBREC))?.body.readUInt16BE(0), 7);
      assert.equal(intake.submitted.length, n);
      // The account on '#' sees its own marker first: the meter's PUBLISH went nowhere.
      ops.send(publishPacket('site/marker', Buffer.from('m'), 1, 2));
      const first = parsePublish((await ops.nextOf(PacketType.PUBLISH))!);
      assert.equal(first.topic, 'site/marker');
      assert.equal(m.isClosed, false);
      m.destroy();
      ops.destroy();
    });
  }

  for (const topic of ['$SYS/x', readingsTopic('m1'), 'elsewhere']) {
    test(`[MQTT-3.3.5-2] an account publishing on "${topic}" is disconnected without PUBACK`, T, async () => {
      const r = await connected({ clientId: 'ops', username: 'ops', password: 'pw' });
      r.send(publishPacket(topic, Buffer.from('x'), 1, 3));
      assert.equal(await r.next(), undefined);
    });
  }

  test('[MQTT-3.3.1-3] a PUBLISH received with DUP=1 is forwarded with DUP=0', T, async () => {
    const sub = await connected({ clientId: 'ops/sub', username: 'ops', password: 'pw' });
    sub.send(subscribePacket(1, [['site/#', 1]]));
    await sub.nextOf(PacketType.SUBACK);
    const pub = await connected({ clientId: 'ops/pub', username: 'ops', password: 'pw' });
    pub.send(publishPacket('site/dup', Buffer.from('x'), 1, 5, true));
    const got = parsePublish((await sub.nextOf(PacketType.PUBLISH))!);
    assert.deepEqual([got.topic, got.dup], ['site/dup', false]);
  });
});
