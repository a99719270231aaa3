/** promtool (prometheus' own lint) over the gateway's scrape: an external tool, hence an integration test. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayMetrics } from '../../../gateway/metrics.js';
import { promtoolCheckMetrics } from '../../helpers/deploy.js';

test('promtool check metrics finds nothing to lint, with the Node.js defaults, XMPP and every label in use', { timeout: 30_000 }, async () => {
  const m = new GatewayMetrics({ xmpp: true });
  m.setInfo('0.0.0-test', 'chain-a');
  m.blockCommitted(3, 10, 2048, 0.5);
  m.natsConnected(true);
  m.peerMessageDropped('E_P2P_BAD_SIGNATURE');
  m.connectRefused('bad_credentials');
  m.xmpp.stanzaRefused('E_READING_TOO_LARGE');
  const r = await promtoolCheckMetrics((await m.scrape()).body);
  assert.equal(r.stderr + r.stdout, '');
  assert.equal(r.code, 0);
});
