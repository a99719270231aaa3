/**
 * Password backoff for local accounts, per source address and per account: the rules
 * alone (time passed in), then a flood against the broker over stream pairs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MqttBroker, hashPassword } from '../../../bridge/mqtt/index.js';
import { LoginThrottle, sourceOf } from '../../../bridge/mqtt/login-throttle.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { RawClient, connectPacket } from '../../helpers/mqtt-client.js';

describe('LoginThrottle', { timeout: 10_000 }, () => {
  test('sources: IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64', () => {
    assert.equal(sourceOf('198.51.100.7'), '198.51.100.7');
    assert.equal(sourceOf('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(sourceOf('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
    assert.equal(sourceOf('2001:db8:1:2:ffff::9'), '2001:db8:1:2::/64', 'one host, many addresses: one source');
    assert.equal(sourceOf('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(sourceOf('::1'), '0:0:0:0::/64');
    assert.equal(sourceOf(undefined), '');
  });

  test('a source gets 3 free failures, then waits 1 s, 2 s, 4 s ... at most 60 s', () => {
    const t = new LoginThrottle();
    let now = 0;
    for (let i = 0; i < 3; i++) {
      assert.equal(t.wait('a', 'ops', now), 0);
      t.failed('a', 'ops', now);
    }
    assert.equal(t.wait('a', 'ops', now), 0);
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      t.failed('a', 'ops', now);
      waits.push(t.wait('a', 'ops', now));
      now += waits.at(-1)!;
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    assert.equal(t.wait('a', 'other-account', now - 1), 1, 'the wait is the source\'s, whichever account it tries');
  });

  test('a source\'s failures are forgotten after 15 minutes, and by a success', () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 4; i++) t.failed('a', 'ops', 0);
    assert.equal(t.wait('a', 'ops', 0), 1000);
    t.failed('a', 'ops', 15 * 60_000 + 1); // counts as the first again
    assert.equal(t.wait('a', 'ops', 15 * 60_000 + 1), 0);
    for (let i = 0; i < 4; i++) t.failed('b', 'ops', 0);
    t.succeeded('b', 'ops', 1000);
    assert.equal(t.wait('b', 'ops', 1000), 0);
  });

  test('a flood from one source does not delay another source', () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 8; i++) t.failed('attacker', 'ops', 0);
    assert.ok(t.wait('attacker', 'ops', 0) > 0);
    assert.equal(t.wait('operator', 'ops', 0), 0);
  });

  test('guesses spread over many sources lock the account for new sources, not for one it logged in from', () => {
    const t = new LoginThrottle();
    t.succeeded('home', 'ops', 0);
    for (let i = 0; i < 11; i++) t.failed(`bot-${i}`, 'ops', 1);
    assert.equal(t.wait('bot-99', 'ops', 1), 1000);
    assert.equal(t.wait('home', 'ops', 1), 0, 'a source the account logged in from skips the account\'s wait');
    assert.equal(t.wait('bot-99', 'other', 1), 0, 'other accounts are not affected');
  });
});

describe('password floods against the broker (stream pairs)', { timeout: 60_000 }, () => {
  test('one address flooding wrong passwords gets a few checks, then CONNACK 3; the right password from elsewhere gets in', async () => {
    const intake = await TestIntake.open([]);
    let now = 1_750_000_000_000;
    const broker = await MqttBroker.create({ intake, now: () => now, accounts: [{ username: 'ops', passwordHash: hashPassword('s3cret'), subscribe: ['site/#'] }] });
    const attempt = async (password: string, remoteAddress: string, clientId = 'ops'): Promise<number> => {
      const r = RawClient.over(broker, { remoteAddress });
      r.send(connectPacket({ clientId, username: 'ops', password }));
      const { returnCode } = await r.connack(10_000);
      r.destroy();
      return returnCode;
    };
    try {
      // 60 guesses at once, then 60 one after another: all inside one second of the broker's clock.
      const burst = await Promise.all(Array.from({ length: 60 }, (_, i) => attempt(`guess-${i}`, '198.51.100.7', `ops/${i}`)));
      const serial: number[] = [];
      for (let i = 0; i < 60; i++) serial.push(await attempt(`later-${i}`, '198.51.100.7'));
      const checked = [...burst, ...serial].filter((c) => c === 4).length;
      console.log(`# 120 guesses from one address: ${checked} checked (CONNACK 4), ${120 - checked} refused unchecked (CONNACK 3)`);
      assert.ok(checked <= 5, `${checked} guesses were checked`);
      assert.ok([...burst, ...serial].every((c) => c === 3 || c === 4));
      assert.equal(await attempt('s3cret', '203.0.113.9'), 0, 'the right password from another address');
      assert.equal(await attempt('s3cret', '198.51.100.7'), 3, 'the flooding address waits, even with the right password');
      now += 60_000;
      assert.equal(await attempt('s3cret', '198.51.100.7'), 0, 'and gets in after its wait');
    } finally {
      await broker.close();
      await intake.close();
    }
  });
});
