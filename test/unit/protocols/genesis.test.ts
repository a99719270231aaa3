/**
 * The genesis file: validated with errors that name the field, normalized, and hashed as
 * SHA-256 over RFC 8949 §4.2.1 deterministic CBOR, so JSON whitespace and key order do not matter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PARAMS, Kem, ProtocolError, genesisHash, genesisRecipientKeys, parseGenesis, toHex } from '../../../protocols/index.js';
import { readVector } from '../../vectors/generate.js';
import type { BlockFile, GenesisFile } from '../../vectors/types.js';

const doc = readVector<BlockFile>('block.json').genesis;
const clone = (): Record<string, any> => JSON.parse(JSON.stringify(doc)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** parseGenesis must refuse with E_GENESIS_INVALID and a message naming `field`. */
function refuses(d: unknown, field: string): void {
  assert.throws(() => parseGenesis(d), (e: unknown) => {
    assert.ok(e instanceof ProtocolError, String(e));
    assert.equal(e.code, 'E_GENESIS_INVALID');
    assert.ok(e.message.includes(field), `"${e.message}" should name ${field}`);
    return true;
  });
}

test('genesis vector parses; its hash is the one in block.json (block 1 prevHash)', () => {
  const v = readVector<BlockFile>('block.json');
  const g = parseGenesis(doc);
  assert.equal(toHex(genesisHash(g)), v.genesisHash);
  assert.equal(v.header.prevHash, v.genesisHash);
  assert.equal(g.validators.length, 4);
});

test('parseGenesis errors name the field', () => {
  refuses('x', 'genesis');
  let d = clone(); d.chainId = 'Upper'; refuses(d, 'chainId');
  d = clone(); delete d.chainId; refuses(d, 'chainId');
  d = clone(); d.genesisTime = 'yesterday'; refuses(d, 'genesisTime');
  d = clone(); d.validators = []; refuses(d, 'validators');
  d = clone(); d.validators[1].power = 0; refuses(d, 'validators[1].power');
  d = clone(); d.validators[2].publicKey = 'zz'; refuses(d, 'validators[2].publicKey');
  d = clone(); d.validators[0].alg = 'ES256'; d.validators[0].publicKey = d.meters[2].publicKey; refuses(d, 'validators[0].alg');
  d = clone(); d.validators[3].id = d.validators[0].id; refuses(d, 'validators');
  d = clone(); d.validators[1].power = 2 ** 50 + 1; refuses(d, 'validators[1].power');
  d = clone(); d.meters[0].publicKey = d.meters[0].publicKey.slice(2); refuses(d, 'meters[0].publicKey');
  d = clone(); d.meters[2].alg = 'RSA'; refuses(d, 'meters[2].alg');
  d = clone(); d.meters[1].id = 'bad id'; refuses(d, 'meters[1].id');
  d = clone(); d.meters[0].color = 'red'; refuses(d, 'meters[0]');
  d = clone(); d.operators = {}; refuses(d, 'operators');
  d = clone(); d.params.maxTxBytes = 0; refuses(d, 'params.maxTxBytes');
  d = clone(); d.params.extra = 1; refuses(d, 'params');
  d = clone(); d.extra = 1; refuses(d, 'extra');
});

test('RFC 8949 §4.2.1 genesis hash is independent of key order and whitespace', () => {
  const reorder = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reorder);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reorder(x)]));
    return v;
  };
  const a = genesisHash(parseGenesis(doc));
  const text = JSON.stringify(reorder(doc), null, 7).replace(/\n/g, '\r\n\t');
  assert.deepEqual(genesisHash(parseGenesis(JSON.parse(text))), a);
});

test('genesis normalization: default params, alg aliases and hex case do not change the hash', () => {
  const a = genesisHash(parseGenesis(doc));
  let d = clone(); delete d.params;
  assert.deepEqual(parseGenesis(d).params, DEFAULT_PARAMS);
  assert.deepEqual(genesisHash(parseGenesis(d)), a, 'params omitted = the defaults');
  d = clone(); d.validators[0].alg = 'EdDSA'; d.meters[2].alg = 'P-256'; d.meters[0].publicKey = d.meters[0].publicKey.toUpperCase();
  assert.deepEqual(genesisHash(parseGenesis(d)), a);
  for (const v of (d.validators as { power?: number }[])) delete v.power;
  assert.deepEqual(genesisHash(parseGenesis(d)), a, 'power defaults to 1');
  // But the content does count: order of validators, a key, a power.
  d = clone(); d.validators.reverse();
  assert.notDeepEqual(genesisHash(parseGenesis(d)), a);
  d = clone(); d.validators[0].power = 2;
  assert.notDeepEqual(genesisHash(parseGenesis(d)), a);
});

test('genesis.json: each document normalizes as listed and hashes to its genesis hash; absent lists hash as empty ones', () => {
  const cases = readVector<GenesisFile>('genesis.json').cases;
  for (const c of cases) {
    const g = parseGenesis(c.doc);
    assert.deepEqual(JSON.parse(JSON.stringify(g)), c.normalized, c.name);
    assert.equal(toHex(genesisHash(g)), c.hash, c.name);
  }
  assert.equal(cases[0]!.hash, cases[1]!.hash, 'absent operators, meters, observers and params = empty lists and defaults');
  assert.deepEqual((cases[0]!.normalized as { operators: unknown[] }).operators, []);
  assert.notEqual(cases[3]!.hash, cases[0]!.hash, 'an explicit reading window is part of the hash');
});

test('one node key under two ids is refused: its holder would cast two votes (validators, observers)', () => {
  let d = clone(); d.validators[3].publicKey = d.validators[0].publicKey; refuses(d, 'validators and observers');
  d = clone(); d.observers = [{ id: 'observer-x', alg: 'Ed25519', publicKey: d.validators[2].publicKey.toUpperCase() }];
  refuses(d, 'validators and observers');
  d = clone(); d.observers = [{ id: 'observer-x', alg: 'Ed25519', publicKey: d.operators[0].publicKey }];
  assert.equal(parseGenesis(d).observers?.length, 1, 'the genesis rules bind node keys only; a draft refuses any reuse');
});

test('genesis meters[i].recipients (§11.2): the rules of label 16, each refusal naming the field; the meter starts confidential', () => {
  const conf = readVector<GenesisFile>('genesis.json').cases.find((c) => c.name.startsWith('a confidential meter'))!;
  const base = (): Record<string, any> => JSON.parse(JSON.stringify(conf.doc)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const g = parseGenesis(base());
  assert.deepEqual(genesisRecipientKeys(g.meters[0]!)?.map((r) => [r.id, r.kem, r.publicKey.length]), [['biller-1/enc-1', Kem.X25519, 32], ['john/enc-1', Kem.P256, 65]]);
  assert.equal(genesisRecipientKeys({ ...g.meters[0]!, recipients: undefined }), undefined);
  let d = base(); d.meters[0].recipients.reverse(); refuses(d, 'meters[0].recipients');
  d = base(); d.meters[0].recipients = []; refuses(d, 'meters[0].recipients');
  d = base(); d.meters[0].recipients[0].kem = 'RSA'; refuses(d, 'meters[0].recipients[0].kem');
  d = base(); d.meters[0].recipients[1].publicKey = 'zz'; refuses(d, 'meters[0].recipients[1].publicKey');
  d = base(); d.meters[0].recipients[0].publicKey = '00'.repeat(32); refuses(d, 'meters[0].recipients'); // small order
  d = base(); d.meters[0].recipients[0].extra = 1; refuses(d, 'meters[0].recipients[0]');
  d = base(); d.meters[0].recipients[1].id = 'biller-1/enc-1'; refuses(d, 'meters[0].recipients');
});
