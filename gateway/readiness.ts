/**
 * Why the gateway should not get traffic now (GET /readyz answers 503 with these reasons,
 * 200 when there are none). Liveness (/healthz) is separate: a gateway without quorum or
 * catching up is alive, keeps accepting readings durably, and needs no restart.
 */
import type { XmppState } from '../bridge/xmpp/index.js';
import type { LedgerApi } from '../ledger-node/api.js';

export interface ReadinessInputs {
  readonly node: Pick<LedgerApi, 'ready' | 'status'>;
  /** The MQTT broker is listening on its TCP port. */
  readonly mqttListening: boolean;
  /** The XMPP bridge's state, when XMPP is configured. */
  readonly xmppState?: XmppState;
}

export function readinessReasons(r: ReadinessInputs): string[] {
  const reasons: string[] = [];
  if (!r.node.ready()) reasons.push('ledger node not ready');
  else {
    const s = r.node.status();
    if (!s.hasQuorum) reasons.push('no quorum: the validators heard from in the last 10 s hold no more than 2/3 of the voting power');
    if (s.syncing) reasons.push(`syncing: ${s.behind} blocks behind a peer`);
  }
  if (!r.mqttListening) reasons.push('mqtt broker not listening');
  if (r.xmppState !== undefined && r.xmppState !== 'online') reasons.push(`xmpp not online (${r.xmppState})`);
  return reasons;
}
