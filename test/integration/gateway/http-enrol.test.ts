/**
 * Enrolment over HTTP (docs/http-api.md §Enrolment): the operator's one-time code, kept
 * hashed in a 0600 file; the owner's ES256 key bound once with it; a code used, expired,
 * or locked after too many wrong tries refused with its code; enrolment off without a
 * registrar key; the routes rate-limited. The binder here writes the account record as a
 * committed rotation would; the portal test runs the registrar's real rotation.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Alg, type AccountRecord, LedgerTxType, StateKind, decodeAnyTx, publicKeyOf, randomSecretKey, ReasonCode, sessionSignBytes, toHex,
} from '../../../protocols/index.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';
import { type HttpApi, startHttpApi } from '../../../gateway/http/server.js';
import { type AccountKeyBinder, ENROL_CODES_FILE, EnrolmentCodes, registrarBinder } from '../../../gateway/http/enrol.js';
import { RequestLimits } from '../../../gateway/http/limits.js';
import { type FakeLedger, makeFakeLedger } from '../../helpers/fake-ledger.js';

const TOKEN = 'admin-token-for-enrol-tests';
const OP = { authorization: `Bearer ${TOKEN}` };
let dir: string;
let node: FakeLedger;
let api: HttpApi;
let clock = Date.parse('2026-03-01T00:00:00Z');
const bound: { account: string; publicKey: string }[] = [];

const binder: AccountKeyBinder = {
  async bind(account, alg, publicKey) {
    const a = node.record(StateKind.Account, account) as AccountRecord;
    node.records.get(StateKind.Account)!.set(account, { ...a, alg, publicKey, keyEpoch: a.keyEpoch + 1 });
    bound.push({ account, publicKey: toHex(publicKey) });
    return { keyEpoch: a.keyEpoch + 1, txHash: '00'.repeat(32), height: 7 };
  },
};

const generous = () => new RequestLimits({ sourcePerSecond: 1000, sourceBurst: 1000, accountPerSecond: 1000, accountBurst: 1000 });
const start = (enrolment: Parameters<typeof startHttpApi>[0]['enrolment'], limits = generous()) => startHttpApi({
  node, scrapeMetrics: async () => ({ contentType: 'text/plain', body: '' }), readiness: () => [], mqttClients: () => 0,
  adminToken: TOKEN, logger: silentLogger, limits, ...(enrolment ? { enrolment } : {}),
}, '127.0.0.1', 0);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meterledger-enrol-'));
  node = makeFakeLedger();
  const sk = randomSecretKey(Alg.EdDSA);
  node.records.set(StateKind.Account, new Map<string, unknown>([
    ['owner-1', { alg: Alg.EdDSA, publicKey: publicKeyOf(Alg.EdDSA, sk), keyEpoch: 0, balance: 0n }],
    ['owner-2', { alg: Alg.EdDSA, publicKey: publicKeyOf(Alg.EdDSA, sk), keyEpoch: 0, balance: 0n }],
  ]));
  api = await start({ codes: new EnrolmentCodes(dir, () => clock), binder });
});
after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(base: string, path: string, o: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(o), signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as any };
}

/** A WebCrypto P-256 key as the portal makes it: its raw (65-byte SEC1) public key as hex. */
async function browserKey(): Promise<{ keys: webcrypto.CryptoKeyPair; hex: string }> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  return { keys, hex: toHex(new Uint8Array(await webcrypto.subtle.exportKey('raw', keys.publicKey))) };
}

test('the operator makes a code; only its hash is stored, in a 0600 file; an owner or nobody cannot make one', async () => {
  assert.equal((await post(api.url, '/api/v1/enrol/codes', { account: 'owner-1' })).status, 401);
  assert.equal((await post(api.url, '/api/v1/enrol/codes', { account: 'owner-1' }, { authorization: 'Bearer wrong' })).status, 403);
  assert.equal((await post(api.url, '/api/v1/enrol/codes', { account: 'nobody' }, OP)).body.error.code, 'E_ACCOUNT_NOT_FOUND');
  assert.equal((await post(api.url, '/api/v1/enrol/codes', { account: 'owner-1', maxTries: 0 }, OP)).body.error.code, 'E_HTTP_BAD_BODY');
  const r = await post(api.url, '/api/v1/enrol/codes', { account: 'owner-1' }, OP);
  assert.equal(r.status, 201);
  assert.match(r.body.code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{1,4}){6}$/, '128 bits in Crockford base32, grouped');
  assert.equal(r.body.expires, clock + 7 * 86_400_000, 'seven days by default');
  assert.equal(r.body.maxTries, 5);
  const file = join(dir, ENROL_CODES_FILE);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes(r.body.code) && !text.includes(r.body.code.replace(/-/g, '')), 'the code itself is not on disk');
  assert.match(text, /"hash": "[0-9a-f]{64}"/);
});

test('a code binds the browser key once; the second use is E_ENROL_BAD_CODE; the new key opens a session', async () => {
  const { code } = (await post(api.url, '/api/v1/enrol/codes', { account: 'owner-1' }, OP)).body;
  const k = await browserKey();
  assert.equal((await post(api.url, '/api/v1/enrol', { account: 'owner-1', code, publicKey: 'abcd' })).body.error.code, 'E_ENROL_BAD_KEY');
  assert.equal((await post(api.url, '/api/v1/enrol', { account: 'owner-1', code, publicKey: '04' + '11'.repeat(64) })).body.error.code, 'E_ENROL_BAD_KEY');
  // Typed by hand: lower case, no dashes.
  const ok = await post(api.url, '/api/v1/enrol', { account: 'owner-1', code: code.toLowerCase().replace(/-/g, ''), publicKey: k.hex });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.keyEpoch, 1);
  assert.equal(bound.at(-1)!.account, 'owner-1');
  assert.equal(bound.at(-1)!.publicKey.length, 66, 'stored as compressed SEC1');
  const again = await post(api.url, '/api/v1/enrol', { account: 'owner-1', code, publicKey: (await browserKey()).hex });
  assert.equal(again.status, 401);
  assert.equal(again.body.error.code, 'E_ENROL_BAD_CODE');
  assert.equal(bound.length, 1);
  // The key just bound signs in (the session route reads the account's key from state).
  const c = await post(api.url, '/api/v1/session/challenge', { account: 'owner-1' });
  const sig = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, k.keys.privateKey, sessionSignBytes(c.body.chainId, 'owner-1', c.body.challenge)));
  const s = await post(api.url, '/api/v1/session', { account: 'owner-1', challenge: c.body.challenge, signature: toHex(sig) });
  assert.equal(s.status, 200, JSON.stringify(s.body));
  assert.equal(s.body.keyEpoch, 1);
});

test('an expired code is E_ENROL_EXPIRED; a code for another account does not work', async () => {
  const { code } = (await post(api.url, '/api/v1/enrol/codes', { account: 'owner-2', ttlSeconds: 60 }, OP)).body;
  const other = await post(api.url, '/api/v1/enrol', { account: 'owner-1', code, publicKey: (await browserKey()).hex });
  assert.equal(other.body.error.code, 'E_ENROL_BAD_CODE');
  clock += 60_000;
  const late = await post(api.url, '/api/v1/enrol', { account: 'owner-2', code, publicKey: (await browserKey()).hex });
  assert.equal(late.status, 401);
  assert.equal(late.body.error.code, 'E_ENROL_EXPIRED');
});

test('wrong codes count tries: the limit locks the code, even for the right one; a new code unlocks', async () => {
  const { code } = (await post(api.url, '/api/v1/enrol/codes', { account: 'owner-2', maxTries: 3 }, OP)).body;
  const key = (await browserKey()).hex;
  const wrong = 'ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZ';
  const r1 = await post(api.url, '/api/v1/enrol', { account: 'owner-2', code: wrong, publicKey: key });
  assert.equal(r1.body.error.code, 'E_ENROL_BAD_CODE');
  assert.match(r1.body.error.message, /2 tries left/);
  assert.equal((await post(api.url, '/api/v1/enrol', { account: 'owner-2', code: wrong, publicKey: key })).body.error.code, 'E_ENROL_BAD_CODE');
  const r3 = await post(api.url, '/api/v1/enrol', { account: 'owner-2', code: wrong, publicKey: key });
  assert.equal(r3.status, 403);
  assert.equal(r3.body.error.code, 'E_ENROL_LOCKED');
  assert.equal((await post(api.url, '/api/v1/enrol', { account: 'owner-2', code, publicKey: key })).body.error.code, 'E_ENROL_LOCKED');
  // The lock survives a restart: the tries are in the file.
  const again = await start({ codes: new EnrolmentCodes(dir, () => clock), binder });
  try {
    assert.equal((await post(again.url, '/api/v1/enrol', { account: 'owner-2', code, publicKey: key })).body.error.code, 'E_ENROL_LOCKED');
    const fresh = (await post(again.url, '/api/v1/enrol/codes', { account: 'owner-2' }, OP)).body.code;
    assert.equal((await post(again.url, '/api/v1/enrol', { account: 'owner-2', code: fresh, publicKey: key })).status, 200);
  } finally {
    await again.close();
  }
});

test('a code file that is not the gateway\'s is refused at start with E_ENROL_CODES_CORRUPT', () => {
  const bad = mkdtempSync(join(tmpdir(), 'meterledger-enrol-bad-'));
  try {
    writeFileSync(join(bad, ENROL_CODES_FILE), '{"codes": {"owner-1": {"hash": "x"}}}', { mode: 0o600 });
    assert.throws(() => new EnrolmentCodes(bad), (e: any) => e.code === 'E_ENROL_CODES_CORRUPT' && /owner-1/.test(e.message));
    writeFileSync(join(bad, ENROL_CODES_FILE), '{', { mode: 0o600 });
    assert.throws(() => new EnrolmentCodes(bad), (e: any) => e.code === 'E_ENROL_CODES_CORRUPT');
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
});

test('without a registrar key both routes are E_ENROL_DISABLED', async () => {
  for (const e of [undefined, { codes: new EnrolmentCodes(dir, () => clock) }]) {
    const off = await start(e);
    try {
      const c = await post(off.url, '/api/v1/enrol/codes', { account: 'owner-1' }, OP);
      assert.equal(c.status, 403);
      assert.equal(c.body.error.code, 'E_ENROL_DISABLED');
      assert.equal((await post(off.url, '/api/v1/enrol', { account: 'owner-1', code: 'AAAA', publicKey: (await browserKey()).hex })).body.error.code, 'E_ENROL_DISABLED');
    } finally {
      await off.close();
    }
  }
});

test('enrolment is rate-limited per account and per source', async () => {
  const limited = await start({ codes: new EnrolmentCodes(dir, () => clock), binder }, new RequestLimits({ accountPerSecond: 0.001, accountBurst: 2, sourcePerSecond: 0.001, sourceBurst: 4, now: () => 0 }));
  try {
    const key = (await browserKey()).hex;
    const send = (account: string) => post(limited.url, '/api/v1/enrol', { account, code: 'WRONG', publicKey: key });
    assert.equal((await send('owner-9')).body.error.code, 'E_ACCOUNT_NOT_FOUND');
    assert.equal((await send('owner-9')).body.error.code, 'E_ACCOUNT_NOT_FOUND');
    const third = await send('owner-9');
    assert.equal(third.status, 429);
    assert.equal(third.body.error.code, 'E_HTTP_RATE_LIMITED');
    assert.equal((await send('owner-8')).body.error.code, 'E_ACCOUNT_NOT_FOUND', 'another account is not held back');
    assert.equal((await send('owner-7')).status, 429, 'the source is out of its burst');
  } finally {
    await limited.close();
  }
});

test('the registrar binder signs AccountRotate to the next epoch as the registrar, and says when it does not commit in time', async () => {
  const reg = generateKeyPair(Alg.EdDSA);
  const b = registrarBinder(node, 'operator-0', reg, { timeoutMs: 300, pollMs: 50 });
  const before1 = node.submitted.length;
  const k = (await browserKey()).hex;
  const pk = new Uint8Array(Buffer.from(k, 'hex'));
  await assert.rejects(b.bind('owner-1', Alg.ES256, pk), (e: any) => e.code === 'E_ENROL_TIMEOUT');
  assert.equal(node.submitted.length, before1 + 1);
  const tx = decodeAnyTx(node.submitted.at(-1)!, 32768);
  assert.equal(tx.cose.kid, 'operator-0');
  assert.equal(tx.body.type, LedgerTxType.AccountRotate);
  const body = tx.body as { account: string; keyEpoch: number; alg: number };
  assert.equal(body.account, 'owner-1');
  assert.equal(body.keyEpoch, (node.record(StateKind.Account, 'owner-1') as AccountRecord).keyEpoch + 1);
  assert.equal(body.alg, Alg.ES256);
  node.nextSubmit = { status: 'rejected', txHash: new Uint8Array(32), code: ReasonCode.TX_ROLE, message: 'not a registrar' };
  try {
    await assert.rejects(b.bind('owner-1', Alg.ES256, pk), (e: any) => e.code === 'E_ENROL_REFUSED' && e.message.includes(ReasonCode.TX_ROLE));
  } finally {
    node.nextSubmit = undefined;
  }
});
