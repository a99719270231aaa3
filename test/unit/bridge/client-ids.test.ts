/** Client ids used by a meter stay that meter's ([MQTT-3.1.4-2] takeover is only by the same meter). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientIdOwners } from '../../../bridge/mqtt/client-ids.js';

test('a meter\'s client id may be reused by that meter only', { timeout: 5_000 }, () => {
  const o = new ClientIdOwners();
  assert.equal(o.claim('c1', 'm1'), true);
  assert.equal(o.claim('c1', 'm1'), true);
  assert.equal(o.claim('c1', 'm2'), false);
  assert.equal(o.claim('c1', undefined), false, 'accounts and anonymous may not take a meter\'s session');
  assert.equal(o.claim('free', undefined), true);
  assert.equal(o.claim('free', 'm2'), true, 'ids of non-meters are not reserved');
});
