/**
 * CONNECT authentication (MQTT 3.1.1 §3.1, CONNACK codes §3.2.2.3). Meters prove their
 * key: over TLS with a client certificate holding it, otherwise with a signed connect
 * token (protocols/mqtt.ts) as password. Local accounts use scrypt passwords, behind a
 * per-source and per-account backoff (login-throttle.ts). There are no shared passwords
 * for meters. Once the principal is known, its client id must be its own (client-ids.ts).
 * docs/protocol.md §8.1 lists every refusal and its code.
 */
import { checkConnectToken } from '../../protocols/mqtt.js';
import type { Alg } from '../../protocols/keys.js';
import type { IntakePort } from '../../protocols/intake.js';
import { type Principal, mayRegisterWill } from './acl.js';
import { clientIdProblem } from './client-ids.js';
import type { LoginThrottle } from './login-throttle.js';
import type { ConnectRefusal } from './metrics.js';
import { verifyPassword } from './password.js';
import { type PeerIdentity, sameKey } from './tls-identity.js';

export interface MqttAccount {
  readonly username: string;
  /** scrypt hash as produced by hashPassword() */
  readonly passwordHash: string;
  /** topic filters this account may publish/subscribe; must be outside meters/ */
  readonly publish?: readonly string[];
  readonly subscribe?: readonly string[];
}

export interface ConnectRequest {
  /** The client id exactly as sent (aedes invents one when it is empty). */
  readonly clientId: string;
  readonly clean: boolean;
  readonly username?: string;
  readonly password?: Buffer;
  readonly willTopic?: string;
  /** The TLS client certificate, when there is one. */
  readonly peer?: PeerIdentity;
  /** Where the connection comes from, for password backoff (login-throttle.ts sourceOf). */
  readonly source?: string;
}

export interface AuthConfig {
  readonly intake: Pick<IntakePort, 'chainId' | 'meterAuth'>;
  readonly accounts: ReadonlyMap<string, MqttAccount>;
  readonly allowAnonymous: boolean;
  readonly tokenMaxAgeMs: number;
  readonly now: () => number;
  /** Checks a CONNECT token's signature (protocols/keys.ts verifySignature's contract). */
  readonly verify: SignatureCheck;
  /** Password backoff; none when absent. */
  readonly throttle?: LoginThrottle;
}

export type SignatureCheck = (alg: Alg, publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean;

/** CONNACK return codes we refuse with (MQTT 3.1.1 Table 3.1). */
export const ReturnCode = { IdentifierRejected: 2, ServerUnavailable: 3, BadCredentials: 4, NotAuthorized: 5 } as const;
export type RefusalCode = (typeof ReturnCode)[keyof typeof ReturnCode];

export type AuthOutcome =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly returnCode: RefusalCode; readonly reason: ConnectRefusal; readonly detail: string };

const refuse = (returnCode: RefusalCode, detail: string): AuthOutcome => ({
  ok: false, returnCode, detail,
  reason: returnCode === 2 ? 'identifier_rejected' : returnCode === 3 ? 'server_unavailable' : returnCode === 4 ? 'bad_credentials' : 'not_authorized',
});

export async function authenticateConnect(req: ConnectRequest, cfg: AuthConfig): Promise<AuthOutcome> {
  // [MQTT-3.1.3-8] a zero-byte client id needs CleanSession=1; refuse with code 2.
  if (req.clientId === '' && !req.clean) return refuse(2, 'empty client id requires a clean session');
  const outcome = await identify(req, cfg);
  if (!outcome.ok) return outcome;
  const idProblem = clientIdProblem(outcome.principal, req.clientId, (name) => cfg.accounts.has(name) || cfg.intake.meterAuth(name) !== undefined);
  if (idProblem) return refuse(2, idProblem);
  if (req.willTopic !== undefined && !mayRegisterWill(outcome.principal, req.willTopic)) {
    return refuse(5, `will on "${req.willTopic}" is not allowed`);
  }
  return outcome;
}

async function identify(req: ConnectRequest, cfg: AuthConfig): Promise<AuthOutcome> {
  // TLS: a presented certificate names the meter by username, else by its CN.
  const certMeterId = req.peer ? (req.username ?? req.peer.commonName) : undefined;
  const certMeter = certMeterId !== undefined ? cfg.intake.meterAuth(certMeterId) : undefined;
  if (req.peer && certMeter) {
    if (certMeter.revoked) return refuse(5, `meter ${certMeter.meterId} is revoked`);
    if (!sameKey(req.peer.key, certMeter.alg, certMeter.publicKey)) {
      return refuse(5, `client certificate key is not the registered key of meter ${certMeter.meterId}`);
    }
    return meter(req, certMeter.meterId);
  }
  if (req.username === undefined) {
    return cfg.allowAnonymous ? { ok: true, principal: { kind: 'anonymous' } } : refuse(5, 'anonymous clients are not allowed');
  }
  const m = cfg.intake.meterAuth(req.username);
  if (m) {
    if (m.revoked) return refuse(5, `meter ${m.meterId} is revoked`);
    if (!req.password) return refuse(4, 'meter needs a connect token as password');
    const check = checkConnectToken(req.password.toString('utf8'), cfg.intake.chainId, m.meterId, req.clientId,
      m.alg, m.publicKey, cfg.now(), cfg.tokenMaxAgeMs, cfg.verify);
    return check.ok ? meter(req, m.meterId) : refuse(4, check.reason);
  }
  const account = cfg.accounts.get(req.username);
  // An unknown user is refused at once. Hashing for it too would hide which account names
  // exist, but let a flood of made-up CONNECTs queue scrypt work ahead of real logins and
  // of LevelDB's writes; account names are configuration, not secrets.
  if (!account || !req.password) return refuse(4, `unknown user or wrong password for "${req.username}"`);
  const source = req.source ?? '';
  const wait = cfg.throttle?.wait(source, account.username, cfg.now()) ?? 0;
  if (wait > 0) return refuse(3, `too many failed logins for "${account.username}" from this address: retry in ${Math.ceil(wait / 1000)} s`);
  const check = await verifyPassword(req.password, account.passwordHash, source);
  if (check === 'busy') return refuse(3, 'too many password checks waiting: retry later');
  if (check === 'ok') {
    cfg.throttle?.succeeded(source, account.username, cfg.now());
    return { ok: true, principal: { kind: 'account', username: account.username, publish: account.publish ?? [], subscribe: account.subscribe ?? [] } };
  }
  cfg.throttle?.failed(source, account.username, cfg.now());
  return refuse(4, `unknown user or wrong password for "${req.username}"`);
}

function meter(req: ConnectRequest, meterId: string): AuthOutcome {
  // Meters need a stable client id: the token is bound to it and receipts queue on it.
  if (req.clientId === '') return refuse(2, 'meters must send a client id');
  return { ok: true, principal: { kind: 'meter', meterId } };
}
