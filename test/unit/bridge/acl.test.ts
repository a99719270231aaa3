/** Topic ACL: MQTT 3.1.1 §4.7 matching and the meterledger publish/subscribe rules. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type Principal, accountFilterProblem, decidePublish, filterCovers, mayReceive, mayRegisterWill, maySubscribe, topicMatches } from '../../../bridge/mqtt/acl.js';

const meter: Principal = { kind: 'meter', meterId: 'm1' };
const account: Principal = { kind: 'account', username: 'ops', publish: ['site/#'], subscribe: ['site/+/status', 'alerts'] };
const anon: Principal = { kind: 'anonymous' };

describe('MQTT 3.1.1 §4.7 topic filters', { timeout: 10_000 }, () => {
  // The examples of §4.7.1.2 and §4.7.1.3, and [MQTT-4.7.2-1] for '$' topics.
  const cases: [string, string, boolean][] = [
    ['sport/tennis/player1/#', 'sport/tennis/player1', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
    ['sport/#', 'sport', true],
    ['#', 'sport/tennis', true],
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['#', '$SYS/broker/clients', false],
    ['+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['$SYS/#', '$SYS/broker', true],
  ];
  for (const [f, t, want] of cases) {
    test(`"${f}" ${want ? 'matches' : 'does not match'} "${t}"`, () => assert.equal(topicMatches(f, t), want));
  }

  const level = fc.constantFrom('a', 'b', 'meters', '', '$SYS');
  const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('/'));
  const filter = fc.array(fc.constantFrom('a', 'b', 'meters', '', '+', '$SYS'), { minLength: 1, maxLength: 4 })
    .chain((l) => fc.boolean().map((hash) => (hash ? [...l, '#'] : l).join('/')));

  test('filterCovers(a, r) implies every topic r matches, a matches too (property)', () => {
    fc.assert(fc.property(filter, filter, topic, (a, r, t) => !(filterCovers(a, r) && topicMatches(r, t)) || topicMatches(a, t)), { numRuns: 5000 });
  });

  test('a filter covers itself (property)', () => {
    fc.assert(fc.property(filter, (f) => filterCovers(f, f)));
  });
});

describe('publish rules', { timeout: 10_000 }, () => {
  test('a meter publishes readings only on its own topic; anything else is E_READING_WRONG_METER', () => {
    assert.deepEqual(decidePublish(meter, 'meters/m1/readings'), { kind: 'reading', meterId: 'm1' });
    assert.deepEqual(decidePublish(meter, 'meters/m2/readings'), { kind: 'wrong-meter', meterId: 'm1', topicMeterId: 'm2' });
    for (const t of ['meters/m1/receipts', 'meters/m1/readings/x', 'other', '$SYS/x']) assert.deepEqual(decidePublish(meter, t), { kind: 'wrong-meter', meterId: 'm1' }, t);
  });
  test('a meter publishes payments only on its own payments topic (docs/protocol.md §8.7)', () => {
    assert.deepEqual(decidePublish(meter, 'meters/m1/payments'), { kind: 'payment', meterId: 'm1' });
    for (const t of ['meters/m2/payments', 'meters/m1/bills', 'meters/m1/payments/x']) assert.equal(decidePublish(meter, t).kind, 'wrong-meter', t);
    assert.equal(decidePublish(account, 'meters/m1/payments').kind, 'deny');
    assert.equal(decidePublish(anon, 'meters/m1/payments').kind, 'deny');
  });
  test('a meter asks for full receipts on a receipts/get topic; which meter it names is checked by the handler (docs/protocol.md §8.3.2)', () => {
    assert.deepEqual(decidePublish(meter, 'meters/m1/receipts/get'), { kind: 'receipt-request', meterId: 'm1', forMeter: 'm1' });
    assert.deepEqual(decidePublish(meter, 'meters/m2/receipts/get'), { kind: 'receipt-request', meterId: 'm1', forMeter: 'm2' });
    for (const t of ['meters/m1/receipts/get/x', 'meters/+/receipts/get', 'meters/m1/receipts/put']) assert.equal(decidePublish(meter, t).kind, 'wrong-meter', t);
    assert.equal(decidePublish(account, 'meters/m1/receipts/get').kind, 'deny');
    assert.equal(decidePublish(anon, 'meters/m1/receipts/get').kind, 'deny');
    // Answers go on the receipts topic only: nobody subscribes to or receives a request topic.
    assert.equal(maySubscribe(meter, 'meters/m1/receipts/get'), false);
    assert.equal(mayReceive(meter, 'meters/m1/receipts/get'), false);
  });
  test('accounts publish on their filters, never under meters/ or $', () => {
    assert.equal(decidePublish(account, 'site/a/status').kind, 'allow');
    assert.equal(decidePublish(account, 'elsewhere').kind, 'deny');
    assert.equal(decidePublish(account, 'meters/m1/readings').kind, 'deny');
    assert.equal(decidePublish(account, '$SYS/x').kind, 'deny');
  });
  test('anonymous publishes anywhere but meters/ and $', () => {
    assert.equal(decidePublish(anon, 'x/y').kind, 'allow');
    assert.equal(decidePublish(anon, 'meters/m1/readings').kind, 'deny');
    assert.equal(decidePublish(anon, 'meters').kind, 'deny');
  });
  test('meters may not register a Will; others only where they may publish', () => {
    assert.equal(mayRegisterWill(meter, 'meters/m1/readings'), false);
    assert.equal(mayRegisterWill(account, 'site/x'), true);
    assert.equal(mayRegisterWill(account, 'meters/m1/receipts'), false);
  });
});

describe('subscribe and delivery rules', { timeout: 10_000 }, () => {
  test('a meter subscribes only to its own receipts', () => {
    assert.equal(maySubscribe(meter, 'meters/m1/receipts'), true);
    for (const f of ['meters/m2/receipts', 'meters/m1/readings', 'meters/+/receipts', 'meters/m1/#', '#']) assert.equal(maySubscribe(meter, f), false, f);
  });
  test('a meter subscribes to its own bills and receives them; nobody else does (docs/protocol.md §8.7)', () => {
    assert.equal(maySubscribe(meter, 'meters/m1/bills'), true);
    assert.equal(mayReceive(meter, 'meters/m1/bills'), true);
    for (const f of ['meters/m2/bills', 'meters/+/bills', 'meters/m1/payments']) assert.equal(maySubscribe(meter, f), false, f);
    assert.equal(mayReceive(meter, 'meters/m2/bills'), false);
    const broad: Principal = { kind: 'account', username: 'all', publish: [], subscribe: ['#'] };
    for (const p of [broad, anon]) {
      assert.equal(maySubscribe(p, 'meters/m1/bills'), false);
      assert.equal(mayReceive(p, 'meters/m1/bills'), false);
    }
  });
  test('accounts subscribe to filters their configuration covers, never naming meters/', () => {
    assert.equal(maySubscribe(account, 'site/a/status'), true);
    assert.equal(maySubscribe(account, 'site/+/status'), true);
    assert.equal(maySubscribe(account, 'site/#'), false);
    assert.equal(maySubscribe(account, 'alerts'), true);
    for (const f of ['meters/#', '#', '+/m1/receipts']) assert.equal(maySubscribe(account, f), false, f);
  });
  test('an account configured for broad filters gets them granted; deliveries under meters/ are refused', () => {
    const broad: Principal = { kind: 'account', username: 'all', publish: ['#'], subscribe: ['#', '+/+/receipts'] };
    for (const f of ['#', '+/#', '+/+/receipts', 'site/#']) assert.equal(maySubscribe(broad, f), true, f);
    for (const f of ['meters/#', 'meters/m1/receipts', '$SYS/#']) assert.equal(maySubscribe(broad, f), false, f);
    assert.equal(mayReceive(broad, 'meters/m1/receipts'), false);
    assert.equal(mayReceive(broad, 'plant/m1/receipts'), true);
    assert.equal(mayReceive(broad, '$SYS/broker/uptime'), false, '[MQTT-4.7.2-1]: # does not reach $ topics');
  });
  test('anonymous may use broad filters but never meters/ or $ filters', () => {
    assert.equal(maySubscribe(anon, 'news'), true);
    assert.equal(maySubscribe(anon, '#'), true);
    assert.equal(maySubscribe(anon, '+/x'), true);
    for (const f of ['meters/#', 'meters/m1/receipts', '$SYS/#']) assert.equal(maySubscribe(anon, f), false, f);
    assert.equal(mayReceive(anon, 'news'), true);
    assert.equal(mayReceive(anon, 'meters/m1/receipts'), false);
    assert.equal(mayReceive(anon, '$SYS/x'), false);
  });
  test('readings are delivered to nobody; receipts only to their meter', () => {
    assert.equal(mayReceive(meter, 'meters/m1/receipts'), true);
    assert.equal(mayReceive(meter, 'meters/m2/receipts'), false);
    assert.equal(mayReceive(meter, 'meters/m1/readings'), false);
    assert.equal(mayReceive(account, 'meters/m1/receipts'), false);
    assert.equal(mayReceive(anon, 'meters/m1/readings'), false);
    assert.equal(mayReceive(account, 'site/a/status'), true);
    assert.equal(mayReceive(account, 'elsewhere'), false, 'an account receives only what its subscribe filters match');
  });
  test('account filters naming meters/ are configuration errors; broad ones are not', () => {
    for (const f of ['meters/#', 'meters/+/receipts', 'meters', '']) assert.ok(accountFilterProblem(f), f);
    for (const f of ['site/#', '#', '+/x', '+/+/receipts']) assert.equal(accountFilterProblem(f), undefined, f);
  });
});
