/**
 * Which client ids a principal may use. MQTT sessions are keyed by client id alone
 * ([MQTT-3.1.2-4]), and a CONNECT with an id in use takes that session over or wipes it
 * ([MQTT-3.1.4-2], [MQTT-3.1.2-6]). So a client id is tied to a name: the meter id of a
 * meter or the username of a local account owns `<name>` and `<name>/<suffix>`, and no
 * one else may use them. Pure and stateless: ownership follows from the name, so it can
 * neither be claimed first by someone else nor outlive anything.
 *
 * Meter ids never contain `/` (protocols/tx.ts), and account usernames may not either
 * (broker.ts), so `<name>/...` cannot name someone else's id.
 */
import type { Principal } from './acl.js';

/** A suffix after `<name>/`: the meter id alphabet, 1-64 characters. */
export const CLIENT_ID_SUFFIX = /^[A-Za-z0-9._-]{1,64}$/;

/** The name a client id belongs to: everything before its first `/`. */
export const clientIdOwner = (clientId: string): string => {
  const slash = clientId.indexOf('/');
  return slash < 0 ? clientId : clientId.slice(0, slash);
};

/** Whether `clientId` is `name` itself or `name/<suffix>`. */
export function isOwnClientId(name: string, clientId: string): boolean {
  if (clientId === name) return true;
  return clientId.startsWith(`${name}/`) && CLIENT_ID_SUFFIX.test(clientId.slice(name.length + 1));
}

/**
 * Why `p` may not use `clientId`, or undefined when it may. An empty id (the broker
 * assigns one, [MQTT-3.1.3-6]) is decided elsewhere. Anonymous clients may use any id
 * that does not belong to a known name: `isKnownName` says whether a name is a meter
 * id or an account username.
 */
export function clientIdProblem(p: Principal, clientId: string, isKnownName: (name: string) => boolean): string | undefined {
  if (clientId === '') return undefined;
  if (p.kind === 'anonymous') {
    return isKnownName(clientIdOwner(clientId)) ? `client id "${clientId}" belongs to a registered meter or account` : undefined;
  }
  const name = p.kind === 'meter' ? p.meterId : p.username;
  return isOwnClientId(name, clientId) ? undefined : `client id must be "${name}" or "${name}/<suffix>" ([A-Za-z0-9._-]{1,64})`;
}
