/**
 * Who may read what over HTTP (docs/http-api.md §Access, §Sessions): owner sessions
 * opened with Ed25519 and with a WebCrypto ES256 key, their expiry, single use and
 * revocation on key rotation; and a table of every route with its rule, so a route
 * added without one fails here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import {
  Alg, LedgerTxType, StateKind, TxType, publicKeyOf, randomSecretKey, sessionSignBytes, sha256, signMessage, signTx, toHex,
  type AccountRecord, type TxBody,
} from '../../../protocols/index.js';
import { silentLogger } from '../../../ledger-node/api.js';
import { type HttpApi, ROUTES, startHttpApi } from '../../../gateway/http/server.js';
import { SessionStore } from '../../../gateway/http/sessions.js';
import { RequestLimits } from '../../../gateway/http/limits.js';
import { type FakeLedger, makeFakeLedger } from '../../helpers/fake-ledger.js';

const TOKEN = 'admin-token-for-access-tests';
const OP = { authorization: `Bearer ${TOKEN}` };
let node: FakeLedger;
let api: HttpApi;
let clock = Date.parse('2026-03-01T00:00:00Z');
const sessions = new SessionStore({ now: () => clock });

const sk1 = randomSecretKey(Alg.EdDSA);
const sk2 = randomSecretKey(Alg.EdDSA);
const account = (alg: Alg, publicKey: Uint8Array, keyEpoch = 0): AccountRecord => ({ alg, publicKey, keyEpoch, balance: 1234n });

before(async () => {
  node = makeFakeLedger();
  node.records.set(StateKind.Account, new Map<string, unknown>([
    ['owner-1', account(Alg.EdDSA, publicKeyOf(Alg.EdDSA, sk1))],
    ['owner-2', account(Alg.EdDSA, publicKeyOf(Alg.EdDSA, sk2))],
  ]));
  const m1 = node.meters.get('meter-0001')!;
  node.meters.set('meter-0002', { ...m1, meterId: 'meter-0002', owner: 'owner-2', lastSeq: '0' });
  api = await startHttpApi({
    node, scrapeMetrics: async () => ({ contentType: 'text/plain', body: '' }), readiness: () => [], mqttClients: () => 0,
    adminToken: TOKEN, logger: silentLogger, sessions,
    // Generous for the table below; the rate-limit test runs its own gateway.
    limits: new RequestLimits({ sourcePerSecond: 1000, sourceBurst: 1000, accountPerSecond: 1000, accountBurst: 1000 }),
  }, '127.0.0.1', 0);
});
after(() => api.close());

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string | Uint8Array) {
  const res = await fetch(api.url + path, { method, headers, body, signal: AbortSignal.timeout(5000) });
  const type = res.headers.get('content-type') ?? '';
  const text = type.startsWith('text/event-stream') ? (await res.body?.cancel(), '') : await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json };
}
const postJson = (path: string, o: unknown, headers: Record<string, string> = {}) =>
  call('POST', path, { 'content-type': 'application/json', ...headers }, JSON.stringify(o));

/** A session for `acct` signed by `sign` (over the sign bytes the spec defines). */
async function openSession(acct: string, sign: (msg: Uint8Array) => Uint8Array | Promise<Uint8Array>) {
  const c = await postJson('/api/v1/session/challenge', { account: acct });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  assert.match(c.body.challenge, /^[0-9a-f]{64}$/);
  const sig = await sign(sessionSignBytes(c.body.chainId, acct, c.body.challenge));
  return { challenge: c.body.challenge as string, r: await postJson('/api/v1/session', { account: acct, challenge: c.body.challenge, signature: toHex(sig) }) };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('session sign bytes are the documented text: domain, chain id, account, challenge, LF-separated', () => {
  const c = 'ab'.repeat(32);
  assert.equal(new TextDecoder().decode(sessionSignBytes('test-chain', 'owner-1', c)), `meterledger-session-v1\ntest-chain\nowner-1\n${c}`);
  assert.throws(() => sessionSignBytes('test-chain', 'owner\n1', c), /account/);
  assert.throws(() => sessionSignBytes('test-chain', 'owner-1', 'AB'.repeat(32)), /challenge/);
});

test('an Ed25519 account key opens a session scoped to its account; the challenge is single use', async () => {
  const { challenge, r } = await openSession('owner-1', (m) => signMessage(Alg.EdDSA, sk1, m));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.token, /^mls1_[A-Za-z0-9_-]{43}$/);
  assert.equal(r.body.expires, clock + sessions.sessionTtlMs);
  assert.equal((await call('GET', '/api/v1/accounts/owner-1', bearer(r.body.token))).body.balance, '1234');
  const again = await postJson('/api/v1/session', { account: 'owner-1', challenge, signature: toHex(signMessage(Alg.EdDSA, sk1, sessionSignBytes('test-chain', 'owner-1', challenge))) });
  assert.equal(again.status, 401);
  assert.equal(again.body.error.code, 'E_SESSION_BAD_CHALLENGE');
});

test('a P-256 key made and used by WebCrypto (raw P1363 signature) opens a session', async () => {
  const kp = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const raw = new Uint8Array(await webcrypto.subtle.exportKey('raw', kp.publicKey));
  node.records.get(StateKind.Account)!.set('owner-web', account(Alg.ES256, raw));
  const { r } = await openSession('owner-web', async (m) =>
    new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, kp.privateKey, m)));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((await call('GET', '/api/v1/accounts/owner-web', bearer(r.body.token))).status, 200);
});

test('a wrong key, another account\'s challenge, an expired challenge and an unknown account are refused with codes', async () => {
  const wrong = await openSession('owner-1', (m) => signMessage(Alg.EdDSA, sk2, m));
  assert.equal(wrong.r.status, 401);
  assert.equal(wrong.r.body.error.code, 'E_SESSION_BAD_SIGNATURE');

  const c = await postJson('/api/v1/session/challenge', { account: 'owner-2' });
  const cross = await postJson('/api/v1/session', { account: 'owner-1', challenge: c.body.challenge, signature: toHex(signMessage(Alg.EdDSA, sk1, sessionSignBytes('test-chain', 'owner-1', c.body.challenge))) });
  assert.equal(cross.body.error.code, 'E_SESSION_BAD_CHALLENGE');

  const late = await postJson('/api/v1/session/challenge', { account: 'owner-1' });
  clock += sessions.challengeTtlMs;
  const expired = await postJson('/api/v1/session', { account: 'owner-1', challenge: late.body.challenge, signature: toHex(signMessage(Alg.EdDSA, sk1, sessionSignBytes('test-chain', 'owner-1', late.body.challenge))) });
  assert.equal(expired.body.error.code, 'E_SESSION_BAD_CHALLENGE');

  assert.equal((await postJson('/api/v1/session/challenge', { account: 'nobody' })).body.error.code, 'E_ACCOUNT_NOT_FOUND');
  assert.equal((await postJson('/api/v1/session/challenge', { account: 'bad id' })).body.error.code, 'E_HTTP_BAD_BODY');
  assert.equal((await call('POST', '/api/v1/session/challenge', { 'content-type': 'application/json' }, '[1')).body.error.code, 'E_HTTP_BAD_BODY');
});

test('a session expires, and ends when the account key is rotated', async () => {
  const a = await openSession('owner-1', (m) => signMessage(Alg.EdDSA, sk1, m));
  const b = await openSession('owner-1', (m) => signMessage(Alg.EdDSA, sk1, m));
  clock += sessions.sessionTtlMs;
  const dead = await call('GET', '/api/v1/accounts/owner-1', bearer(a.r.body.token));
  assert.equal(dead.status, 401);
  assert.equal(dead.body.error.code, 'E_SESSION_INVALID');
  const fresh = await openSession('owner-1', (m) => signMessage(Alg.EdDSA, sk1, m));
  assert.equal((await call('GET', '/api/v1/accounts/owner-1', bearer(fresh.r.body.token))).status, 200);
  const accounts = node.records.get(StateKind.Account)!;
  const before1 = accounts.get('owner-1') as AccountRecord;
  accounts.set('owner-1', account(Alg.EdDSA, publicKeyOf(Alg.EdDSA, randomSecretKey(Alg.EdDSA)), 1));
  try {
    const revoked = await call('GET', '/api/v1/accounts/owner-1', bearer(fresh.r.body.token));
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.error.code, 'E_SESSION_REVOKED');
    assert.equal((await call('GET', '/api/v1/accounts/owner-1', bearer(b.r.body.token))).body.error.code, 'E_SESSION_INVALID');
  } finally {
    accounts.set('owner-1', before1);
  }
});

test('the challenge store is bounded: full of live challenges it answers 503 E_SESSION_BUSY, and frees expired ones', () => {
  let t = 0;
  const s = new SessionStore({ now: () => t, maxChallenges: 3, challengeTtlMs: 10 });
  for (let i = 0; i < 3; i++) s.challenge('owner-1');
  assert.throws(() => s.challenge('owner-1'), (e: any) => e.code === 'E_SESSION_BUSY' && e.status === 503);
  t = 10;
  assert.doesNotThrow(() => s.challenge('owner-1'));
  assert.equal(s.size.challenges, 1);
});

/**
 * Every route and its rule. `public`: anyone; `operator`: the admin token only;
 * `meter`: the owner of meter-0001 (owner-1) or the operator; `account`: owner-1 or the
 * operator. A route missing here fails the first test below.
 */
const M = 'meter-0001';
const ACCESS: Record<string, { rule: 'public' | 'operator' | 'meter' | 'account' | 'post'; path?: string }> = {
  'GET /healthz': { rule: 'public' },
  'GET /readyz': { rule: 'public' },
  'GET /metrics': { rule: 'public' },
  'GET /api/v1/status': { rule: 'public' },
  'GET /api/v1/genesis': { rule: 'public' },
  'GET /api/v1/blocks': { rule: 'public' },
  'GET /api/v1/blocks/:height': { rule: 'public', path: '/api/v1/blocks/1' },
  'GET /api/v1/blocks/:height/raw': { rule: 'operator', path: '/api/v1/blocks/1/raw' },
  // The validator set and its changes (docs/protocol.md §13): public, as headers are.
  'GET /api/v1/validator-set': { rule: 'public' },
  'GET /api/v1/validator-set/changes': { rule: 'public' },
  'GET /api/v1/meters': { rule: 'meter' },
  'GET /api/v1/meters/:id': { rule: 'meter', path: `/api/v1/meters/${M}` },
  'GET /api/v1/meters/:id/readings': { rule: 'meter', path: `/api/v1/meters/${M}/readings` },
  'GET /api/v1/meters/:id/receipts/:seq': { rule: 'meter', path: `/api/v1/meters/${M}/receipts/1` },
  'GET /api/v1/meters/:id/keys': { rule: 'meter', path: `/api/v1/meters/${M}/keys` },
  'GET /api/v1/meters/:id/period-keys': { rule: 'meter', path: `/api/v1/meters/${M}/period-keys` },
  'GET /api/v1/meters/:id/agreement': { rule: 'meter', path: `/api/v1/meters/${M}/agreement` },
  'GET /api/v1/meters/:id/bills': { rule: 'meter', path: `/api/v1/meters/${M}/bills` },
  'GET /api/v1/bills/:meter/:period': { rule: 'meter', path: `/api/v1/bills/${M}/2026-01` },
  'GET /api/v1/bills/:meterId/:period/bundle': { rule: 'meter', path: `/api/v1/bills/${M}/2026-01/bundle` },
  // A reading's receipt by its hash (TX1: meter-0001's seq 1) is its meter's; money types are the operator's.
  'GET /api/v1/tx/:hash/receipt': { rule: 'meter', path: '/api/v1/tx/TX1/receipt' },
  'GET /api/v1/events': { rule: 'meter', path: `/api/v1/events?meter=${M}` },
  'GET /api/v1/fleet': { rule: 'operator' },
  'GET /api/v1/accounts/:id': { rule: 'account', path: '/api/v1/accounts/owner-1' },
  'GET /api/v1/accounts/:id/mandates': { rule: 'account', path: '/api/v1/accounts/owner-1/mandates' },
  'GET /api/v1/accounts/:id/bills': { rule: 'account', path: '/api/v1/accounts/owner-1/bills' },
  'GET /api/v1/accounts/:id/events': { rule: 'account', path: '/api/v1/accounts/owner-1/events' },
  'GET /api/v1/accounts/:id/payments': { rule: 'account', path: '/api/v1/accounts/owner-1/payments' },
  'GET /api/v1/tariffs': { rule: 'public' },
  'GET /api/v1/tariffs/:name': { rule: 'public', path: '/api/v1/tariffs/flat' },
  // Static files of the portal: no data in them.
  'GET /portal': { rule: 'public' },
  'GET /portal/': { rule: 'public' },
  'GET /portal/meter': { rule: 'public' },
  'GET /portal/receipt': { rule: 'public' },
  'GET /portal/fleet': { rule: 'public' },
  'GET /portal/enrol': { rule: 'public' },
  'GET /portal/mandates': { rule: 'public' },
  'GET /portal/disputes': { rule: 'public' },
  'GET /portal/bills': { rule: 'public' },
  'GET /portal/payments': { rule: 'public' },
  'GET /portal/assets/:file': { rule: 'public', path: '/portal/assets/none.js' },
  // POSTs have their own tests (sessions above, transactions below).
  'POST /api/v1/tx': { rule: 'post' },
  'POST /api/v1/session/challenge': { rule: 'post' },
  'POST /api/v1/session': { rule: 'post' },
  // Enrolment: test/integration/gateway/http-enrol.test.ts (codes need the operator token).
  'POST /api/v1/enrol/codes': { rule: 'post' },
  'POST /api/v1/enrol': { rule: 'post' },
  // Erasure of the biller's recipient key: the operator token (test/integration/gateway/confidential-erasure.test.ts).
  'POST /api/v1/admin/recipient-keys/erase': { rule: 'post' },
};

test('every route has an access rule in this table (a new route must say who may read it)', () => {
  const routes = ROUTES.map((r) => `${r.method} ${r.path}`).sort();
  assert.deepEqual(routes, Object.keys(ACCESS).sort());
});

test('each route answers by its rule: nobody, another owner, the owner and the operator', { timeout: 30_000 }, async () => {
  const own = (await openSession('owner-1', (m) => signMessage(Alg.EdDSA, sk1, m))).r.body.token as string;
  const other = (await openSession('owner-2', (m) => signMessage(Alg.EdDSA, sk2, m))).r.body.token as string;
  // A bill of meter-0001 paid by owner-1, so the bill route has something to show.
  node.records.set(StateKind.Bill, new Map([[`${M}/2026-01`, {
    biller: 'operator-0', payee: 'utility', account: 'owner-1', start: 0, end: 1, total: 500n, credited: 0n, height: 1,
  }]]));
  const denied = (s: number) => s === 401 || s === 403;
  for (const [key, { rule, path: p }] of Object.entries(ACCESS)) {
    if (rule === 'post') continue;
    const path = (p ?? key.split(' ')[1]!).replace('TX1', toHex(sha256(node.readingTxs[0]!)));
    const anon = await call('GET', path);
    const mine = await call('GET', path, bearer(own));
    const theirs = await call('GET', path, bearer(other));
    const op = await call('GET', path, OP);
    const at = `${key} (${rule})`;
    if (rule === 'public') {
      for (const r of [anon, mine, theirs, op]) assert.ok(!denied(r.status), `${at}: ${r.status}`);
      continue;
    }
    assert.ok(!denied(op.status), `${at}: the operator is refused ${op.status}`);
    assert.equal(anon.status, 401, `${at}: anonymous got ${anon.status}`);
    if (rule === 'operator') {
      assert.ok(denied(mine.status) && denied(theirs.status), `${at}: an owner got through`);
      continue;
    }
    assert.ok(!denied(mine.status), `${at}: the owner is refused ${mine.status} ${JSON.stringify(mine.body)}`);
    if (key === 'GET /api/v1/meters') {
      // The list is filtered, not refused: each owner sees only its meters.
      assert.deepEqual(mine.body.meters.map((m: { meterId: string }) => m.meterId), ['meter-0001']);
      assert.deepEqual(theirs.body.meters.map((m: { meterId: string }) => m.meterId), ['meter-0002']);
      assert.equal(op.body.meters.length, 2);
      continue;
    }
    assert.equal(theirs.status, 403, `${at}: another owner got ${theirs.status}`);
    assert.equal(theirs.body?.error.code, 'E_SESSION_NOT_YOURS');
  }
  // Unknown meters look the same as other owners' to an owner: no probing for ids.
  assert.equal((await call('GET', '/api/v1/meters/meter-9999/readings', bearer(own))).status, 403);
  assert.equal((await call('GET', '/api/v1/meters/meter-9999/readings', OP)).status, 404);
});

/** A ledger transaction signed with `sk`, `kid` set when the signer is an account or operator. */
function ledgerTx(body: Record<string, unknown>, sk: Uint8Array, kid?: string): Uint8Array {
  return signTx('test-chain', Alg.EdDSA, sk, body as unknown as TxBody, kid);
}

test('POST /api/v1/tx: owner transactions need no admin token; operator ones still do; both are rate-limited per signer', { timeout: 20_000 }, async () => {
  const mandate = ledgerTx({
    type: LedgerTxType.Mandate, time: clock, account: 'owner-1', payee: 'utility', meters: ['meter-0001'], capPerBill: 10_000n,
    capPerMonth: 20_000n, expires: clock + 86_400_000, autopay: false,
  }, sk1, 'owner-1');
  const before1 = node.submitted.length;
  const ok = await call('POST', '/api/v1/tx', { 'content-type': 'application/cbor' }, mandate);
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  assert.equal(node.submitted.length, before1 + 1, 'the owner\'s mandate reached the node');

  const deposit = ledgerTx({ type: LedgerTxType.Deposit, time: clock, account: 'owner-1', amount: 100n, reference: 'r-1' }, sk1, 'owner-1');
  const noToken = await call('POST', '/api/v1/tx', { 'content-type': 'application/cbor' }, deposit);
  assert.equal(noToken.status, 401);
  assert.equal(noToken.body.error.code, 'E_HTTP_UNAUTHORIZED');
  const reading = signTx('test-chain', Alg.EdDSA, sk1, { type: TxType.Reading, meterId: 'meter-0001', seq: 9n, time: clock, importWh: 1 });
  assert.equal((await call('POST', '/api/v1/tx', { 'content-type': 'application/cbor' }, reading)).status, 401);
  assert.equal(node.submitted.length, before1 + 1, 'nothing else reached the node');
  assert.equal((await call('POST', '/api/v1/tx', { 'content-type': 'application/cbor', ...OP }, deposit)).status, 202);
  const garbage = await call('POST', '/api/v1/tx', { 'content-type': 'application/cbor' }, new Uint8Array([0x84, 1, 2]));
  assert.equal(garbage.status, 422);
  assert.match(garbage.body.code, /^E_/);

  // Rate limits: a gateway of its own with a burst of 2 per signing account.
  const limited = await startHttpApi({
    node, scrapeMetrics: async () => ({ contentType: 'text/plain', body: '' }), readiness: () => [], mqttClients: () => 0,
    adminToken: TOKEN, logger: silentLogger, limits: new RequestLimits({ accountPerSecond: 0.001, accountBurst: 2, now: () => 0 }),
  }, '127.0.0.1', 0);
  try {
    const send = (bytes: Uint8Array) => fetch(limited.url + '/api/v1/tx', { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: bytes });
    assert.equal((await send(mandate)).status, 202);
    assert.equal((await send(mandate)).status, 202);
    const third = await send(mandate);
    assert.equal(third.status, 429);
    assert.equal(((await third.json()) as any).error.code, 'E_HTTP_RATE_LIMITED');
    // Another account is not held back by owner-1's flood.
    const other = ledgerTx({ type: LedgerTxType.MandateRevoke, time: clock, account: 'owner-2', payee: 'utility' }, sk2, 'owner-2');
    assert.equal((await send(other)).status, 202);
  } finally {
    await limited.close();
  }
});

test('the fleet on a chain without a currency: no billing, so unpaid bills are null, not an empty list', async () => {
  assert.equal(node.genesis.currency, undefined, 'the fake ledger\'s genesis has no currency');
  const r = await call('GET', '/api/v1/fleet', OP);
  assert.equal(r.status, 200);
  const f = r.body as { currency: unknown; unpaidBills: unknown; unpaidBillsCount: unknown };
  assert.equal(f.currency, null);
  assert.equal(f.unpaidBills, null);
  assert.equal(f.unpaidBillsCount, null);
});
