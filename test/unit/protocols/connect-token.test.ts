/** MQTT CONNECT password of a meter on plain TCP: ml1.<timeMs>.<hex signature>, bound to chain, meter, client id, time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  algFromName, checkConnectToken, connectTokenSignBytes, fromHex, makeConnectToken, parseMeterTopic, publicKeyOf,
  readingsTopic, receiptsTopic, toHex,
} from '../../../protocols/index.js';
import { KeyObjectCache, nativeVerify } from '../../../ledger-node/crypto/native.js';
import { readVector, seed } from '../../vectors/generate.js';
import type { TokenFile } from '../../vectors/types.js';

const v = readVector<TokenFile>('token.json');

test('token.json: sign bytes, token string, and the listed accept/refuse verdicts', () => {
  for (const c of v.cases) {
    const alg = algFromName(c.alg);
    const pk = fromHex(c.publicKey);
    assert.equal(toHex(connectTokenSignBytes(v.chainId, c.meterId, c.clientId, c.timeMs)), c.signBytes);
    if (c.alg === 'Ed25519') assert.equal(makeConnectToken(v.chainId, c.meterId, c.clientId, c.timeMs, alg, fromHex(c.secretKey)), c.token);
    assert.match(c.token, /^ml1\.\d+\.[0-9a-f]{128}$/);
    for (const k of c.checks) {
      const got = checkConnectToken(c.token, v.chainId, c.meterId, k.clientId, alg, pk, k.nowMs, v.maxAgeMs);
      assert.equal(got.ok, k.ok, `${c.alg}: ${k.name}`);
    }
  }
});

test('token verdicts are the same with Node/OpenSSL as the verifier', () => {
  const cache = new KeyObjectCache();
  for (const c of v.cases) {
    const alg = algFromName(c.alg);
    const pk = fromHex(c.publicKey);
    const native = (a: typeof alg, key: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean => nativeVerify(a, cache.get(a, key), msg, sig);
    for (const k of c.checks) {
      assert.equal(checkConnectToken(c.token, v.chainId, c.meterId, k.clientId, alg, pk, k.nowMs, v.maxAgeMs, native).ok, k.ok, k.name);
    }
  }
});

test('token refused: wrong client id, expired, wrong key, wrong meter, wrong chain, malformed', () => {
  const c = v.cases[0]!;
  const alg = algFromName(c.alg);
  const pk = fromHex(c.publicKey);
  const check = (token: string, o: { clientId?: string; now?: number; pk?: Uint8Array; meterId?: string; chainId?: string } = {}) =>
    checkConnectToken(token, o.chainId ?? v.chainId, o.meterId ?? c.meterId, o.clientId ?? c.clientId, alg, o.pk ?? pk, o.now ?? c.timeMs, v.maxAgeMs);
  assert.deepEqual(check(c.token), { ok: true });
  assert.match((check(c.token, { clientId: 'other' }) as { reason: string }).reason, /signature/);
  assert.match((check(c.token, { now: c.timeMs + v.maxAgeMs + 1 }) as { reason: string }).reason, /expired/);
  assert.equal(check(c.token, { pk: publicKeyOf(alg, seed('someone-else')) }).ok, false);
  assert.equal(check(c.token, { meterId: 'meter-ed-0002' }).ok, false);
  assert.equal(check(c.token, { chainId: 'other-chain' }).ok, false);
  for (const bad of ['', 'ml1', `ml2${c.token.slice(3)}`, c.token.toUpperCase(), `${c.token}00`, c.token.replace(/\.\d+\./, '.-1.'), `ml1.${c.timeMs}.${'00'.repeat(64)}`]) {
    assert.equal(check(bad).ok, false, bad);
  }
});

test('MQTT topics: meters/<id>/readings and meters/<id>/receipts', () => {
  assert.equal(readingsTopic('meter-ed-0001'), 'meters/meter-ed-0001/readings');
  assert.equal(receiptsTopic('meter-ed-0001'), 'meters/meter-ed-0001/receipts');
  assert.deepEqual(parseMeterTopic('meters/m.1/readings'), { meterId: 'm.1', leaf: 'readings' });
  for (const t of ['meters/+/readings', 'meters/#', 'meters/a/b/c', 'meter/a/readings', 'meters//readings']) assert.equal(parseMeterTopic(t), undefined, t);
});
