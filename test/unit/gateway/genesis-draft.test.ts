/**
 * The draft genesis a coordinator assembles (gateway/cli/genesis-draft.ts): every entry
 * checked by the genesis rules of docs/protocol.md §6 as it is added, ids unique per list,
 * a public key in one place only (a P-256 point compressed or not), the total power bounded,
 * and key cards read in their three forms.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { p256 } from '@noble/curves/nist.js';
import { Alg, genesisHash, parseGenesis, toHex } from '../../../protocols/index.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';
import { GatewayError } from '../../../gateway/errors.js';
import { type GenesisDraft, addEntries, addToDraft, finalizeDraft, newDraft, parseDraft } from '../../../gateway/cli/genesis-draft.js';
import { parseCards } from '../../../gateway/cli/key-card.js';

const ed = () => toHex(generateKeyPair(Alg.EdDSA).publicKey);
const code = (c: string, includes?: string) => (e: unknown): boolean => {
  assert.equal((e as { code?: string }).code, c, String(e));
  if (includes) assert.ok((e as Error).message.includes(includes), `"${(e as Error).message}" should name ${includes}`);
  return true;
};

function fourValidators(): GenesisDraft {
  let d = newDraft({ chainId: 'ceremony-1' });
  for (let i = 0; i < 4; i++) d = addToDraft(d, 'validator', { id: `party-${i}`, alg: 'Ed25519', publicKey: ed(), power: 1 });
  return d;
}

test('a draft finalizes to the genesis parseGenesis makes of the same entries, with the hash of that genesis', () => {
  let d = fourValidators();
  d = addToDraft(d, 'observer', { id: 'watcher', alg: 'Ed25519', publicKey: ed() });
  d = addToDraft(d, 'operator', { id: 'utility', alg: 'ES256', publicKey: toHex(generateKeyPair(Alg.ES256).publicKey) });
  d = addToDraft(d, 'meter', { id: 'm-1', alg: 'ES256', publicKey: toHex(generateKeyPair(Alg.ES256).publicKey), owner: 'john' });
  const g = finalizeDraft(d, '2026-01-01T00:00:00Z');
  const { meterledgerDraft: _m, ...rest } = d;
  assert.deepEqual(g, parseGenesis({ ...rest, genesisTime: '2026-01-01T00:00:00Z' }));
  assert.equal(g.validators.length, 4);
  assert.equal(g.observers?.[0]?.id, 'watcher');
  assert.equal(g.meters[0]?.owner, 'john');
  // The draft's own time wins over the finalize default; another time is another genesis.
  const timed = finalizeDraft({ ...d, genesisTime: '2026-02-01T00:00:00Z' }, '2026-01-01T00:00:00Z');
  assert.equal(timed.genesisTime, '2026-02-01T00:00:00Z');
  assert.notEqual(toHex(genesisHash(timed)), toHex(genesisHash(g)));
});

test('entries are checked by the genesis rules as they are added, the field named as in the genesis', () => {
  const d = fourValidators();
  assert.throws(() => addToDraft(d, 'validator', { id: 'x', alg: 'Ed25519', publicKey: '00' }), code('E_GENESIS_INVALID', 'validators[4].publicKey'));
  assert.throws(() => addToDraft(d, 'validator', { id: 'x', alg: 'ES256', publicKey: toHex(generateKeyPair(Alg.ES256).publicKey) }), code('E_GENESIS_INVALID', 'validators[4].alg'));
  assert.throws(() => addToDraft(d, 'observer', { id: 'bad id', alg: 'Ed25519', publicKey: ed() }), code('E_GENESIS_INVALID', 'observers[0].id'));
  assert.throws(() => addToDraft(d, 'meter', { id: 'm', alg: 'RSA', publicKey: ed() }), code('E_GENESIS_INVALID', 'meters[0].alg'));
  assert.throws(() => addToDraft(d, 'operator', { id: 'o', alg: 'Ed25519', publicKey: ed(), power: 3 }), code('E_GENESIS_INVALID', 'operators[0]'));
  // RFC 8032 §5.1.5 small-order points let anyone forge: the identity is refused
  assert.throws(() => addToDraft(d, 'operator', { id: 'o', alg: 'Ed25519', publicKey: '01' + '00'.repeat(31) }), code('E_GENESIS_INVALID', 'small order'));
  for (const power of [0, -1, 1.5, 2 ** 50 + 1, '2']) {
    assert.throws(() => addToDraft(d, 'validator', { id: 'x', alg: 'Ed25519', publicKey: ed(), power }), code('E_GENESIS_INVALID', 'validators[4].power'), String(power));
  }
  assert.throws(() => addToDraft(addToDraft(newDraft({ chainId: 'c' }), 'validator', { id: 'a', alg: 'Ed25519', publicKey: ed(), power: 2 ** 50 }), 'validator',
    { id: 'b', alg: 'Ed25519', publicKey: ed(), power: 1 }), code('E_GENESIS_INVALID', 'above 2^50'));
  assert.throws(() => newDraft({ chainId: 'Upper' }), code('E_DRAFT_INVALID', 'chainId'));
  assert.throws(() => newDraft({ chainId: 'c', params: { maxTxBytes: 0 } }), code('E_GENESIS_INVALID', 'params.maxTxBytes'));
  assert.throws(() => finalizeDraft(newDraft({ chainId: 'c' }), '2026-01-01T00:00:00Z'), code('E_GENESIS_INVALID', 'no validator'));
});

test('an id is taken once per list; validators and observers share one list of ids', () => {
  const d = fourValidators();
  assert.throws(() => addToDraft(d, 'validator', { id: 'party-2', alg: 'Ed25519', publicKey: ed() }), code('E_GENESIS_DUPLICATE', 'party-2'));
  assert.throws(() => addToDraft(d, 'observer', { id: 'party-0', alg: 'Ed25519', publicKey: ed() }), code('E_GENESIS_DUPLICATE', 'validator "party-0"'));
  const m = addToDraft(d, 'meter', { id: 'm-1', alg: 'Ed25519', publicKey: ed() });
  assert.throws(() => addToDraft(m, 'meter', { id: 'm-1', alg: 'Ed25519', publicKey: ed() }), code('E_GENESIS_DUPLICATE', 'm-1'));
  // separate lists in genesis: an operator may be called like a gateway
  assert.equal(addToDraft(d, 'operator', { id: 'party-0', alg: 'Ed25519', publicKey: ed() }).operators.length, 1);
});

test('a public key appears once in the whole draft, whatever the role, a P-256 point in either SEC1 form', () => {
  const d = fourValidators();
  const nodeKey = d.validators[1]!.publicKey;
  for (const role of ['validator', 'observer', 'operator', 'meter'] as const) {
    assert.throws(() => addToDraft(d, role, { id: 'again', alg: 'Ed25519', publicKey: nodeKey.toUpperCase() }), code('E_GENESIS_DUPLICATE', 'validator "party-1"'), role);
  }
  const compressed = generateKeyPair(Alg.ES256).publicKey;
  const uncompressed = toHex(p256.Point.fromBytes(compressed).toBytes(false));
  assert.equal(uncompressed.length, 130);
  const m = addToDraft(d, 'meter', { id: 'm-1', alg: 'ES256', publicKey: toHex(compressed) });
  assert.throws(() => addToDraft(m, 'operator', { id: 'op', alg: 'ES256', publicKey: uncompressed }), code('E_GENESIS_DUPLICATE', 'meter "m-1"'));
  // several entries at once: a duplicate among them is found too, and nothing is added
  assert.throws(() => addEntries(d, [['meter', { id: 'a', alg: 'ES256', publicKey: uncompressed }], ['meter', { id: 'b', alg: 'ES256', publicKey: toHex(compressed) }]]),
    code('E_GENESIS_DUPLICATE', 'meter "a"'));
  assert.equal(d.meters.length, 0, 'a draft is a value: a failed add leaves it as it was');
});

test('a draft read back is checked again: a hand-edited duplicate, a genesis or an unknown field is refused', () => {
  const d = fourValidators();
  const json = JSON.parse(JSON.stringify(d));
  assert.deepEqual(parseDraft(json, 'd.json'), d);
  const dup = JSON.parse(JSON.stringify(d));
  dup.observers.push({ ...dup.validators[0], id: 'copy', power: undefined });
  delete dup.observers[0].power;
  assert.throws(() => parseDraft(dup, 'd.json'), code('E_GENESIS_DUPLICATE', 'validator "party-0"'));
  const genesis = finalizeDraft(d, '2026-01-01T00:00:00Z');
  assert.throws(() => parseDraft(JSON.parse(JSON.stringify(genesis)), 'g.json'), code('E_DRAFT_INVALID', 'finished genesis'));
  assert.throws(() => parseDraft({ ...json, currency: 'EUR' }, 'd.json'), code('E_DRAFT_INVALID', 'currency'));
  // and a draft is no genesis: parseGenesis refuses its mark
  assert.throws(() => parseGenesis({ ...json, genesisTime: '2026-01-01T00:00:00Z' }), code('E_GENESIS_INVALID', 'meterledgerDraft'));
});

test('key cards: one JSON object, an array, or one per line; anything else is E_CARD_INVALID naming where', () => {
  const a = { role: 'node', id: 'a', alg: 'Ed25519', publicKey: ed() };
  const b = { role: 'meter', id: 'b', alg: 'Ed25519', publicKey: ed(), owner: 'john' };
  assert.deepEqual(parseCards(JSON.stringify(a), 'f'), [a]);
  assert.deepEqual(parseCards(JSON.stringify([a, b]), 'f'), [a, b]);
  assert.deepEqual(parseCards(`${JSON.stringify(a)}\n\n${JSON.stringify(b)}\n`, 'f'), [a, b]);
  const bad = (text: string, where: string): void => {
    assert.throws(() => parseCards(text, 'f'), (e: unknown) => e instanceof GatewayError && e.code === 'E_CARD_INVALID' && e.message.includes(where));
  };
  bad('', 'empty');
  bad(`${JSON.stringify(a)}\nnot json`, 'line 2');
  bad(JSON.stringify({ ...a, role: 'king' }), 'role');
  bad(JSON.stringify({ ...a, secretKey: '00' }), 'secretKey');
  bad(JSON.stringify([a, { ...b, id: 7 }]), 'f[1]');
});
