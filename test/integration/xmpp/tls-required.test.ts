/**
 * The bridge refuses to log in on a stream that never became TLS when TLS is required
 * (the gateway requires it for every xmpp:// server off loopback, unless
 * xmpp.tls.allowPlaintext): a real Prosody that offers no STARTTLS is refused with
 * E_XMPP_TLS_REQUIRED before the password is sent, and accepted when TLS is not required;
 * a Prosody that offers STARTTLS is logged in to with TLS required.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { XmppBridge, XmppBridgeError } from '../../../bridge/xmpp/index.js';
import { type Prosody, startProsody } from '../../helpers/prosody.js';
import { TestIntake } from '../../helpers/test-intake.js';

const T = { timeout: 30_000 };
const accounts = { gateway: 'gw-secret' };

describe('XMPP bridge: TLS required', { timeout: 120_000 }, () => {
  let plain: Prosody;
  let secure: Prosody;
  before(async () => {
    [plain, secure] = await Promise.all([startProsody({ tls: false, accounts }), startProsody({ accounts })]);
  });
  after(async () => {
    await Promise.all([plain?.stop(), secure?.stop()]);
  });

  test('a server without STARTTLS: E_XMPP_TLS_REQUIRED, no login attempted, nothing left running', T, async (t) => {
    const intake = await TestIntake.open([]);
    t.after(() => intake.close());
    await assert.rejects(
      XmppBridge.start({ intake, service: plain.service, domain: plain.domain, username: 'gateway', password: 'gw-secret', tls: { required: true } }),
      (e: unknown) => e instanceof XmppBridgeError && e.code === 'E_XMPP_TLS_REQUIRED' && /STARTTLS/.test(e.message) && !e.message.includes('gw-secret'),
    );
    assert.equal(intake.listenerCount(), 0);
    // The server saw no authentication: the refusal came before SASL.
    assert.doesNotMatch(await plain.logTail(), /Authenticated as gateway@/);
  });

  test('the same server with TLS not required: the bridge logs in in clear', T, async (t) => {
    const intake = await TestIntake.open([]);
    t.after(() => intake.close());
    const b = await XmppBridge.start({ intake, service: plain.service, domain: plain.domain, username: 'gateway', password: 'gw-secret' });
    try {
      assert.equal(b.state(), 'online');
      // The line the first test looks for, so its absence there means something.
      assert.match(await plain.logTail(), /Authenticated as gateway@/);
    } finally {
      await b.close();
    }
  });

  test('a server offering STARTTLS: the bridge logs in with TLS required', T, async (t) => {
    const intake = await TestIntake.open([]);
    t.after(() => intake.close());
    const b = await XmppBridge.start({
      intake, service: secure.service, domain: secure.domain, username: 'gateway', password: 'gw-secret', tls: { ca: secure.ca!, required: true },
    });
    try {
      assert.equal(b.state(), 'online');
    } finally {
      await b.close();
    }
  });
});
