/**
 * A principal's client ids are its name or `<name>/<suffix>` ([MQTT-3.1.4-2] takeover and
 * [MQTT-3.1.2-6] wipe are thus only by the owner); ownership follows from the name alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Principal } from '../../../bridge/mqtt/acl.js';
import { clientIdOwner, clientIdProblem, isOwnClientId } from '../../../bridge/mqtt/client-ids.js';

const meter = (meterId: string): Principal => ({ kind: 'meter', meterId });
const account = (username: string): Principal => ({ kind: 'account', username, publish: [], subscribe: [] });
const known = new Set(['m1', 'meter-ed', 'meter-ed-0001', 'ops']);
const problem = (p: Principal, id: string): string | undefined => clientIdProblem(p, id, (n) => known.has(n));

test('a meter may use its id and <id>/<suffix>, nothing else', { timeout: 5_000 }, () => {
  assert.equal(problem(meter('m1'), 'm1'), undefined);
  assert.equal(problem(meter('m1'), 'm1/c1'), undefined);
  assert.equal(problem(meter('m1'), 'm1/a.b_c-9'), undefined);
  for (const id of ['m2', 'm1-c1', 'm1c', 'm1/', 'm1/a/b', 'm1/a b', `m1/${'x'.repeat(65)}`, 'x/m1', 'M1']) {
    assert.match(problem(meter('m1'), id) ?? '', /client id must be "m1" or "m1\/<suffix>"/, id);
  }
});

test('a meter id that is a prefix of another owns neither the other id nor its suffixes', { timeout: 5_000 }, () => {
  // The attack of issue 18: meter-ed claiming meter-ed-0001's default client id.
  assert.notEqual(problem(meter('meter-ed'), 'meter-ed-0001'), undefined);
  assert.notEqual(problem(meter('meter-ed'), 'meter-ed-0001/c1'), undefined);
  assert.equal(isOwnClientId('meter-ed-0001', 'meter-ed-0001/c1'), true);
});

test('an account owns its username and <username>/<suffix>', { timeout: 5_000 }, () => {
  assert.equal(problem(account('ops'), 'ops'), undefined);
  assert.equal(problem(account('ops'), 'ops/dash'), undefined);
  assert.notEqual(problem(account('ops'), 'm1'), undefined, 'an account may not take a meter\'s session');
  assert.notEqual(problem(account('ops'), 'opsx'), undefined);
});

test('anonymous clients may use any id that no meter or account owns', { timeout: 5_000 }, () => {
  const anon: Principal = { kind: 'anonymous' };
  assert.equal(problem(anon, 'dashboard-7'), undefined);
  assert.equal(problem(anon, 'meter-ed-00011'), undefined);
  for (const id of ['m1', 'm1/x', 'ops', 'ops/y', 'meter-ed-0001']) assert.match(problem(anon, id) ?? '', /belongs to a registered meter or account/, id);
});

test('an empty client id is left to the broker (it assigns one, [MQTT-3.1.3-6])', { timeout: 5_000 }, () => {
  assert.equal(problem(meter('m1'), ''), undefined);
  assert.equal(clientIdOwner('a/b/c'), 'a');
  assert.equal(clientIdOwner('abc'), 'abc');
});
