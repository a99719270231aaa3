/**
 * Sessions: what the broker keeps for a client id, and for how long. The registry alone
 * (pure), then the broker over in-process stream pairs: Session Present ([MQTT-3.2.2-2]),
 * DUP on re-delivery ([MQTT-3.3.1-1]), and the bounds one meter cannot push past
 * (sessions per meter, queued messages per session, expiry of stored sessions).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Principal } from '../../../bridge/mqtt/acl.js';
import { MqttBroker, type MqttBrokerOptions, hashPassword } from '../../../bridge/mqtt/index.js';
import { SessionRegistry } from '../../../bridge/mqtt/sessions.js';
import { decodeReceiptsTopicMessage, receiptsTopic } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { PacketType, RawClient, ackPacket, connectPacket, parsePublish, publishPacket, subscribePacket, tokenFor } from '../../helpers/mqtt-client.js';
import { until } from '../../helpers/until.js';

const T = { timeout: 15_000 };
const m1: Principal = { kind: 'meter', meterId: 'm1' };

describe('SessionRegistry', { timeout: 10_000 }, () => {
  const limits = { maxPerMeter: 2, expiryMs: 1000 };
  test('[MQTT-3.2.2-1..3] Session Present: only a CleanSession 0 CONNECT that finds a stored session', () => {
    const r = new SessionRegistry(limits);
    const c1 = {};
    assert.equal(r.connect('m1', m1, false, c1, 0).sessionPresent, false);
    r.disconnect('m1', c1, 10);
    assert.equal(r.connect('m1', m1, false, {}, 20).sessionPresent, true);
    assert.equal(r.connect('m1', m1, true, {}, 30).sessionPresent, false, 'a clean session never finds one');
    assert.equal(r.connect('m1', m1, false, {}, 40).sessionPresent, false, 'and the clean one discarded it');
  });
  test('a clean session ends with its connection; a takeover\'s old connection closing changes nothing', () => {
    const r = new SessionRegistry(limits);
    const old = {};
    r.connect('m1', m1, false, old, 0);
    r.connect('m1', m1, false, {}, 1); // [MQTT-3.1.4-2] takeover
    assert.equal(r.disconnect('m1', old, 2), false);
    assert.equal(r.size(), 1);
    const clean = {};
    r.connect('m1/x', m1, true, clean, 3);
    assert.equal(r.disconnect('m1/x', clean, 4), true);
    assert.equal(r.principalOf('m1/x'), undefined);
  });
  test('over maxPerMeter, the least recently used session goes: offline ones before connected ones', () => {
    const r = new SessionRegistry(limits);
    const a = {};
    const b = {};
    r.connect('m1/a', m1, false, a, 0);
    r.connect('m1/b', m1, false, b, 1);
    r.disconnect('m1/b', b, 2); // b is offline, a connected though older
    assert.deepEqual(r.connect('m1/c', m1, false, {}, 3).evicted, [{ clientId: 'm1/b', conn: undefined, persistent: true }]);
    assert.deepEqual(r.connect('m1/d', m1, true, {}, 4).evicted.map((e) => [e.clientId, e.conn === a]), [['m1/a', true]]);
    assert.equal(r.connect('m2', { kind: 'meter', meterId: 'm2' }, false, {}, 5).evicted.length, 0, 'the cap is per meter');
    const acct: Principal = { kind: 'account', username: 'ops', publish: [], subscribe: [] };
    for (let i = 0; i < 5; i++) assert.equal(r.connect(`ops/${i}`, acct, false, {}, 6).evicted.length, 0, 'accounts are not capped');
  });
  test('a stored session expires expiryMs after its connection closed, not before', () => {
    const r = new SessionRegistry(limits);
    const c = {};
    r.connect('m1', m1, false, c, 0);
    assert.deepEqual(r.expire(5000), [], 'connected sessions never expire');
    r.disconnect('m1', c, 100);
    assert.deepEqual(r.expire(1100), []);
    assert.deepEqual(r.expire(1101), ['m1']);
    assert.equal(r.size(), 0);
  });
});

describe('sessions in the broker (stream pairs)', { timeout: 120_000 }, () => {
  let intake: TestIntake;
  let t = 1_750_000_000_000;
  const now = (): number => t;
  const brokers: MqttBroker[] = [];
  const raws: RawClient[] = [];
  let seq = 0n;

  const start = async (extra: Partial<MqttBrokerOptions> = {}): Promise<MqttBroker> => {
    const b = await MqttBroker.create({ intake, now, ...extra });
    brokers.push(b);
    return b;
  };
  /** A meter's raw connection; resolves with it and its CONNACK. */
  const meter = async (b: MqttBroker, clientId: string, clean = false): Promise<[RawClient, { returnCode: number; sessionPresent: boolean }]> => {
    const r = RawClient.over(b);
    raws.push(r);
    const meterId = clientId.split('/')[0]!;
    r.send(connectPacket({ clientId, clean, username: meterId, password: tokenFor(intake, meterId, clientId, t) }));
    return [r, await r.connack()];
  };
  const subscribeReceipts = async (r: RawClient, meterId = 'm1'): Promise<void> => {
    r.send(subscribePacket(1, [[receiptsTopic(meterId), 1]]));
    assert.equal((await r.nextOf(PacketType.SUBACK))?.type, PacketType.SUBACK);
  };
  const drop = async (b: MqttBroker, r: RawClient): Promise<void> => {
    const before = b.connectedClients();
    r.destroy();
    await until('the broker saw the disconnect', () => b.connectedClients() < before, 5000, 10);
  };
  /** Readings of `meterId` accepted and committed: one receipt each on its receipts topic. */
  const commit = async (meterId: string, n: number): Promise<bigint[]> => {
    const seqs: bigint[] = [];
    for (let i = 0; i < n; i++) {
      const s = ++seq;
      await intake.submit(intake.reading(meterId, s), { meterId, transport: 'mqtt' });
      seqs.push(s);
    }
    await intake.allCommitted();
    return seqs;
  };
  const receiptSeq = (p: ReturnType<typeof parsePublish>): bigint => {
    const m = decodeReceiptsTopicMessage(new Uint8Array(p.payload));
    assert.equal(m.status, 'committed');
    return m.seq!;
  };

  before(async () => {
    intake = await TestIntake.open(['m1', 'm2']);
  });
  after(async () => {
    for (const r of raws) r.destroy();
    for (const b of brokers) await b.close();
    await intake.close();
  });

  test('[MQTT-3.2.2-2] Session Present is 1 for a stored session without subscriptions', T, async () => {
    const b = await start();
    const [r1, first] = await meter(b, 'm1/nosubs');
    assert.equal(first.sessionPresent, false, '[MQTT-3.2.2-3] nothing stored yet');
    await drop(b, r1);
    const [, again] = await meter(b, 'm1/nosubs');
    assert.deepEqual(again, { returnCode: 0, sessionPresent: true });
  });

  test('[MQTT-3.3.1-1] a receipt sent before and not acknowledged comes again with DUP=1 and its packet identifier; one queued offline with DUP=0', T, async () => {
    const b = await start();
    const [r, c] = await meter(b, 'm1/dup');
    assert.equal(c.sessionPresent, false);
    await subscribeReceipts(r);
    const [sent] = await commit('m1', 1);
    const live = parsePublish((await r.nextOf(PacketType.PUBLISH))!);
    assert.equal(live.dup, false, 'the first attempt has DUP=0');
    assert.equal(receiptSeq(live), sent);
    await drop(b, r); // without PUBACK
    const [queued] = await commit('m1', 1);
    const [r2, c2] = await meter(b, 'm1/dup');
    assert.equal(c2.sessionPresent, true);
    const again = parsePublish((await r2.nextOf(PacketType.PUBLISH))!);
    const fresh = parsePublish((await r2.nextOf(PacketType.PUBLISH))!);
    assert.deepEqual([receiptSeq(again), again.dup, again.messageId, again.qos], [sent, true, live.messageId, 1], '[MQTT-4.4.0-1] same packet identifier');
    assert.deepEqual([receiptSeq(fresh), fresh.dup], [queued, false], 'never sent before: DUP=0');
    r2.send(ackPacket(again.messageId!));
    r2.send(ackPacket(fresh.messageId!));
    await r2.ping(); // the PUBACKs are handled before the PINGRESP
    // Acknowledged: not sent a third time.
    await drop(b, r2);
    const [r3] = await meter(b, 'm1/dup');
    const [next] = await commit('m1', 1);
    assert.equal(receiptSeq(parsePublish((await r3.nextOf(PacketType.PUBLISH))!)), next);
  });

  test('one meter holds at most maxSessionsPerMeter sessions: a new one ends its least recently used', T, async () => {
    const b = await start({ maxSessionsPerMeter: 2 });
    for (const id of ['m1/a', 'm1/b']) {
      const [r] = await meter(b, id);
      await subscribeReceipts(r);
      await drop(b, r);
      t += 1000;
    }
    // Many more (issue 18's attack opened 150): the meter still holds only 2, m2 its own.
    for (let i = 0; i < 40; i++) {
      const [r] = await meter(b, `m1/s${i}`);
      await subscribeReceipts(r);
      await drop(b, r);
      t += 10;
    }
    await meter(b, 'm2');
    assert.equal(b.sessionCount(), 3);
    // A receipt of m1 is queued for its two newest sessions, which are all it has left.
    const [receipt] = await commit('m1', 1);
    for (const id of ['m1/s39', 'm1/s38']) {
      const [r, c] = await meter(b, id);
      assert.equal(c.sessionPresent, true, id);
      assert.equal(receiptSeq(parsePublish((await r.nextOf(PacketType.PUBLISH))!)), receipt, id);
    }
    for (const id of ['m1/s37', 'm1/a']) {
      const [, c] = await meter(b, id);
      assert.equal(c.sessionPresent, false, `${id} was ended`);
    }
  });

  test('a connected session over the cap is disconnected', T, async () => {
    const b = await start({ maxSessionsPerMeter: 2 });
    const [a] = await meter(b, 'm1/live-a', true);
    t += 1;
    await meter(b, 'm1/live-b', true);
    t += 1;
    assert.equal(a.isClosed, false);
    await meter(b, 'm1/live-c', true);
    assert.equal(await a.closedWithin(5000), true);
    assert.equal(b.connectedClients(), 2);
  });

  test('a session queues at most maxQueuedMessages while offline; newer messages are dropped for it', T, async () => {
    const b = await start({ maxQueuedMessages: 3 });
    const [r] = await meter(b, 'm1/q');
    await subscribeReceipts(r);
    await drop(b, r);
    const seqs = await commit('m1', 5);
    const [r2] = await meter(b, 'm1/q');
    const got: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const p = parsePublish((await r2.nextOf(PacketType.PUBLISH))!);
      got.push(receiptSeq(p));
      r2.send(ackPacket(p.messageId!));
    }
    await r2.ping();
    assert.deepEqual(got, seqs.slice(0, 3));
    // Then the live receipt of a new reading, not the two dropped ones.
    const [live] = await commit('m1', 1);
    assert.equal(receiptSeq(parsePublish((await r2.nextOf(PacketType.PUBLISH))!)), live);
  });

  test('a stored session ends sessionExpiryMs after its connection closed', T, async () => {
    // The sweep runs every expiry/4 of real time; the expiry itself is judged on `now`.
    const b = await start({ sessionExpiryMs: 400 });
    const [r] = await meter(b, 'm1/exp');
    await subscribeReceipts(r);
    await drop(b, r);
    assert.equal(b.sessionCount(), 1);
    t += 401;
    await until('the session expired', () => b.sessionCount() === 0, 10_000, 20);
    await commit('m1', 1); // nothing queued for it now
    const [r2, c] = await meter(b, 'm1/exp');
    assert.equal(c.sessionPresent, false);
    // Its subscription went with it: a new receipt does not arrive before the PUBACK of a reading.
    await commit('m1', 1);
    r2.send(publishPacket('meters/m1/readings', intake.reading('m1', ++seq), 1, 9));
    assert.equal((await r2.next())?.type, PacketType.PUBACK);
  });

  test('[MQTT-3.3.1-9] a message queued for an established subscription goes with RETAIN=0, even published retained', T, async () => {
    const b = await start({ accounts: [{ username: 'ops', passwordHash: hashPassword('pw'), publish: ['site/#'], subscribe: ['site/#'] }] });
    const login = async (clientId: string, clean = false): Promise<RawClient> => {
      const r = RawClient.over(b);
      raws.push(r);
      r.send(connectPacket({ clientId, clean, username: 'ops', password: 'pw' }));
      assert.equal((await r.connack()).returnCode, 0);
      return r;
    };
    const sub = await login('ops/sub');
    sub.send(subscribePacket(1, [['site/#', 2]]));
    await sub.nextOf(PacketType.SUBACK);
    await drop(b, sub);
    const pub = await login('ops/pub', true);
    pub.send(publishPacket('site/r', Buffer.from('kept'), 1, 1));
    pub.send(Buffer.concat([Buffer.of(0x33), publishPacket('site/r2', Buffer.from('retained'), 1, 2).subarray(1)])); // RETAIN=1
    await pub.nextOf(PacketType.PUBACK);
    await pub.nextOf(PacketType.PUBACK);
    const back = await login('ops/sub');
    const got = [parsePublish((await back.nextOf(PacketType.PUBLISH))!), parsePublish((await back.nextOf(PacketType.PUBLISH))!)];
    assert.deepEqual(got.map((p) => [p.topic, p.retain]), [['site/r', false], ['site/r2', false]]);
  });

  test('[MQTT-3.8.4-6] a message goes out at no more than the QoS granted to the wildcard filter it matched', T, async () => {
    const b = await start({ accounts: [{ username: 'ops', passwordHash: hashPassword('pw'), publish: ['site/#'], subscribe: ['site/#'] }] });
    const sub = RawClient.over(b);
    raws.push(sub);
    sub.send(connectPacket({ clientId: 'ops/q1', username: 'ops', password: 'pw' }));
    await sub.connack();
    sub.send(subscribePacket(1, [['site/+', 1]]));
    await sub.nextOf(PacketType.SUBACK);
    sub.send(publishPacket('site/q2', Buffer.from('at QoS 2'), 2, 5));
    const got = parsePublish((await sub.nextOf(PacketType.PUBLISH))!);
    assert.deepEqual([got.topic, got.qos], ['site/q2', 1]);
  });

  test('messages are queued only for sessions that may receive them: an offline account on # gets no receipts queued', T, async () => {
    const b = await start({ maxQueuedMessages: 2, accounts: [{ username: 'all', passwordHash: hashPassword('pw'), subscribe: ['#'], publish: ['#'] }] });
    const acct = RawClient.over(b);
    raws.push(acct);
    acct.send(connectPacket({ clientId: 'all', clean: false, username: 'all', password: 'pw' }));
    assert.equal((await acct.connack()).returnCode, 0);
    acct.send(subscribePacket(1, [['#', 1]]));
    await acct.nextOf(PacketType.SUBACK);
    await drop(b, acct);
    await commit('m1', 4); // four receipts: with a queue of 2, they would fill it
    const pub = RawClient.over(b);
    raws.push(pub);
    pub.send(connectPacket({ clientId: 'all/pub', username: 'all', password: 'pw' }));
    await pub.connack();
    pub.send(publishPacket('plant/a', Buffer.from('one'), 1, 1));
    pub.send(publishPacket('plant/b', Buffer.from('two'), 1, 2));
    await pub.nextOf(PacketType.PUBACK);
    await pub.nextOf(PacketType.PUBACK);
    const back = RawClient.over(b);
    raws.push(back);
    back.send(connectPacket({ clientId: 'all', clean: false, username: 'all', password: 'pw' }));
    assert.equal((await back.connack()).sessionPresent, true);
    const topics = [parsePublish((await back.nextOf(PacketType.PUBLISH))!).topic, parsePublish((await back.nextOf(PacketType.PUBLISH))!).topic];
    assert.deepEqual(topics, ['plant/a', 'plant/b']);
  });
});
