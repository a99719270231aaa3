/**
 * gateway/cli/simulate-xmpp.ts against the bridge and a real Prosody: meters on direct TLS
 * (RFC 7590), the bridge on STARTTLS; every reading acked and receipted, receipts verified
 * with the genesis; a second run with the same sequence numbers is refused as replays.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { XmppBridge } from '../../../bridge/xmpp/index.js';
import { runXmppSimulation } from '../../../gateway/cli/simulate-xmpp.js';
import { type Prosody, startProsody } from '../../helpers/prosody.js';
import { TestIntake } from '../../helpers/test-intake.js';

let p: Prosody | undefined;
let bridge: XmppBridge | undefined;

after(async () => {
  await bridge?.close();
  await p?.stop();
});

test('runXmppSimulation: K readings per meter are acked and receipted; replays are counted by code', { timeout: 60_000 }, async (t) => {
  p = await startProsody({ accounts: { gateway: 'gw-secret', m1: 'm1-secret', m2: 'm2-secret' } });
  // The intake cuts a block every 100 ms.
  const ledger = await TestIntake.open([{ id: 'meter-0001', jid: `m1@${p.domain}` }, { id: 'meter-0002', jid: `m2@${p.domain}` }], { blockIntervalMs: 100 });
  t.after(() => ledger.close());
  bridge = await XmppBridge.start({ intake: ledger, service: p.service, domain: p.domain, username: 'gateway', password: 'gw-secret', tls: { ca: p.ca! } });
  const meters = [
    { jid: `m1@${p.domain}`, password: 'm1-secret', meterId: 'meter-0001', sign: (s: bigint) => ledger.reading('meter-0001', s) },
    { jid: `m2@${p.domain}`, password: 'm2-secret', meterId: 'meter-0002', sign: (s: bigint) => ledger.reading('meter-0002', s) },
  ];
  const opts = {
    service: p.directTlsService!, domain: p.domain, meters, gatewayJid: `gateway@${p.domain}`, readings: 10, rate: 200,
    timeoutMs: 15_000, genesis: ledger.genesis(), tls: { ca: p.ca! },
  };
  const r = await runXmppSimulation(opts);
  assert.equal(r.sent, 20);
  assert.equal(r.acknowledged, 20);
  assert.equal(r.receipted, 20);
  assert.equal(r.rejected, 0);
  assert.equal(r.missing, 0);
  assert.equal(r.invalid_receipts, 0);
  assert.ok(r.p50_ms > 0 && r.p99_ms >= r.p50_ms, JSON.stringify(r));
  assert.equal(ledger.accepted.size, 20);

  const again = await runXmppSimulation({ ...opts, readings: 3 });
  assert.equal(again.sent, 6);
  assert.equal(again.acknowledged, 0);
  assert.deepEqual(again.rejected_by_code, { E_READING_SEQ_REPLAY: 6 });
});
