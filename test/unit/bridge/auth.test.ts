/** CONNECT authentication decisions and their CONNACK codes (MQTT 3.1.1 §3.2.2.3), without sockets. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type AuthConfig, type ConnectRequest, authenticateConnect } from '../../../bridge/mqtt/auth.js';
import { hashPassword } from '../../../bridge/mqtt/password.js';
import { sameKey } from '../../../bridge/mqtt/tls-identity.js';
import { Alg, makeConnectToken, p256Uncompressed, publicKeyOf, randomSecretKey, verifySignature } from '../../../protocols/index.js';
import { TestIntake } from '../../helpers/test-intake.js';

const NOW = 1_750_000_000_000;
const intake = await TestIntake.open(['m1', { id: 'p1', alg: Alg.ES256 }, 'gone']);
await intake.revoke('gone');
after(() => intake.close());
const m1 = intake.meters.get('m1')!;
const p = intake.meters.get('p1')!;
const ops = { username: 'ops', passwordHash: hashPassword('pw'), publish: ['site/#'] };
const cfg = (over: Partial<AuthConfig> = {}): AuthConfig => ({
  intake, accounts: new Map([[ops.username, ops]]), allowAnonymous: false, tokenMaxAgeMs: 300_000, now: () => NOW, verify: verifySignature, ...over,
});
const token = (meterId: string, clientId: string, t = NOW, sk = intake.meters.get(meterId)!.secretKey, alg = intake.meters.get(meterId)!.alg): Buffer =>
  Buffer.from(makeConnectToken(intake.chainId, meterId, clientId, t, alg, sk));
const meterReq = (over: Partial<ConnectRequest> = {}): ConnectRequest =>
  ({ clientId: 'm1/c1', clean: true, username: 'm1', password: token('m1', 'm1/c1'), ...over });

async function code(req: ConnectRequest, c = cfg()): Promise<number> {
  const o = await authenticateConnect(req, c);
  return o.ok ? 0 : o.returnCode;
}

describe('meters with connect tokens', { timeout: 10_000 }, () => {
  test('a valid token authenticates the meter named by the username', async () => {
    assert.deepEqual(await authenticateConnect(meterReq(), cfg()), { ok: true, principal: { kind: 'meter', meterId: 'm1' } });
    assert.equal(await code({ clientId: 'p1', clean: true, username: 'p1', password: token('p1', 'p1') }), 0);
  });
  test('a token for another client id, chain, key or time gets 4', async () => {
    assert.equal(await code(meterReq({ password: token('m1', 'other') })), 4);
    assert.equal(await code(meterReq({ password: token('m1', 'm1/c1', NOW, randomSecretKey(Alg.EdDSA)) })), 4);
    assert.equal(await code(meterReq({ password: token('m1', 'm1/c1', NOW - 300_001) })), 4);
    assert.equal(await code(meterReq({ password: token('m1', 'm1/c1', NOW + 300_001) })), 4);
    assert.equal(await code(meterReq(), cfg({ intake: { chainId: 'other-chain', meterAuth: (id) => intake.meterAuth(id) } })), 4);
    assert.equal(await code(meterReq({ password: undefined })), 4);
    assert.equal(await code(meterReq({ password: Buffer.from('garbage') })), 4);
  });
  test('a revoked meter gets 5 even with a valid token', async () => {
    assert.equal(await code({ clientId: 'gone', clean: true, username: 'gone', password: token('gone', 'gone') }), 5);
  });
  test('an unknown meter (or user) gets 4', async () => {
    assert.equal(await code({ clientId: 'nobody', clean: true, username: 'nobody', password: Buffer.from('x') }), 4);
  });
  test('[MQTT-3.1.3-8] empty client id with CleanSession=0 gets 2; meters always need a client id', async () => {
    assert.equal(await code(meterReq({ clientId: '', clean: false, password: token('m1', '') })), 2);
    assert.equal(await code(meterReq({ clientId: '', clean: true, password: token('m1', '') })), 2);
  });
  test('a meter may not register a Will (5)', async () => {
    assert.equal(await code(meterReq({ willTopic: 'meters/m1/readings' })), 5);
  });
});

describe('client ids are the principal\'s own (client-ids.ts), refused with 2 after authentication', { timeout: 10_000 }, () => {
  test('a meter with a valid token for another meter\'s client id gets 2', async () => {
    // Any meter can sign a token for any client id: the id itself must be refused.
    assert.equal(await code(meterReq({ clientId: 'p1', password: token('m1', 'p1') })), 2);
    assert.equal(await code(meterReq({ clientId: 'p1/c1', password: token('m1', 'p1/c1') })), 2);
    assert.equal(await code(meterReq({ clientId: 'm1', password: token('m1', 'm1') })), 0);
  });
  test('an account or an anonymous client may not use a meter\'s client id (2)', async () => {
    assert.equal(await code({ clientId: 'm1', clean: true, username: 'ops', password: Buffer.from('pw') }), 2);
    assert.equal(await code({ clientId: 'm1/x', clean: true }, cfg({ allowAnonymous: true })), 2);
    assert.equal(await code({ clientId: 'ops', clean: true }, cfg({ allowAnonymous: true })), 2);
  });
  test('a bad token for another meter\'s id is still 4: the id is judged only once the key is proven', async () => {
    assert.equal(await code(meterReq({ clientId: 'p1', password: Buffer.from('ml1.0.00') })), 4);
  });
  test('a TLS meter named by its certificate needs its own client id too', async () => {
    assert.equal(await code({ clientId: 'p1', clean: true, peer: { key: { alg: Alg.EdDSA, publicKey: m1.publicKey }, commonName: 'm1' } }), 2);
  });
});

describe('meters with TLS client certificates', { timeout: 10_000 }, () => {
  const edPeer = { key: { alg: Alg.EdDSA, publicKey: m1.publicKey }, commonName: 'm1' };
  test('a certificate with the registered key authenticates, named by CN or username, no password', async () => {
    assert.equal(await code({ clientId: 'm1', clean: true, peer: edPeer }), 0);
    assert.equal(await code({ clientId: 'p1/tls', clean: true, username: 'p1', peer: { key: { alg: Alg.ES256, publicKey: p256Uncompressed(p.publicKey) } } }), 0);
  });
  test('a certificate with another key gets 5 and does not fall back to the token', async () => {
    const wrong = { key: { alg: Alg.EdDSA, publicKey: publicKeyOf(Alg.EdDSA, randomSecretKey(Alg.EdDSA)) }, commonName: 'm1' };
    assert.equal(await code({ clientId: 'm1', clean: true, peer: wrong }), 5);
    assert.equal(await code({ ...meterReq(), peer: wrong }), 5);
    assert.equal(await code({ clientId: 'm1', clean: true, peer: {} , username: 'm1' }), 5, 'unsupported key type');
  });
  test('a certificate naming no registered meter leaves the username/password path', async () => {
    assert.equal(await code({ clientId: 'ops', clean: true, username: 'ops', password: Buffer.from('pw'), peer: { commonName: 'ops-laptop' } }), 0);
  });
  test('sameKey compares P-256 keys in uncompressed SEC1 form', () => {
    assert.equal(sameKey({ alg: Alg.ES256, publicKey: p256Uncompressed(p.publicKey) }, Alg.ES256, p.publicKey), true);
    assert.equal(sameKey({ alg: Alg.EdDSA, publicKey: m1.publicKey }, Alg.ES256, p.publicKey), false);
    assert.equal(sameKey(undefined, Alg.EdDSA, m1.publicKey), false);
  });
});

describe('accounts and anonymous clients', { timeout: 10_000 }, () => {
  test('an account authenticates with its scrypt password', async () => {
    const o = await authenticateConnect({ clientId: 'ops/x', clean: true, username: 'ops', password: Buffer.from('pw') }, cfg());
    assert.equal(o.ok && o.principal.kind, 'account');
    assert.equal(await code({ clientId: 'ops/x', clean: true, username: 'ops', password: Buffer.from('pW') }), 4);
    assert.equal(await code({ clientId: 'ops/x', clean: true, username: 'ops' }), 4);
  });
  test('an account Will outside its publish filters gets 5', async () => {
    assert.equal(await code({ clientId: 'ops', clean: true, username: 'ops', password: Buffer.from('pw'), willTopic: 'site/x/lwt' }), 0);
    assert.equal(await code({ clientId: 'ops', clean: true, username: 'ops', password: Buffer.from('pw'), willTopic: 'meters/m1/readings' }), 5);
  });
  test('anonymous gets 5 unless allowed', async () => {
    assert.equal(await code({ clientId: 'a', clean: true }), 5);
    assert.equal(await code({ clientId: 'a', clean: true }, cfg({ allowAnonymous: true })), 0);
  });
});
