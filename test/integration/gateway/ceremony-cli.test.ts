/**
 * The consortium ceremony's commands as users run them (the bin spawned with node):
 * `keygen` makes a 0600 key and prints only its public half, never overwriting;
 * `genesis new|add-*|finalize|hash|show` assemble a genesis from cards with clear
 * refusals; `genesis install` checks the hash and the node key before writing anything,
 * and pins the hash; `start` refuses a genesis of another hash, or a keygen'd data dir
 * without one, before opening anything.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Alg, genesisHash, parseGenesis, toHex } from '../../../protocols/index.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { secretForms } from '../../helpers/secrets.js';
import { loadConfig } from '../../../gateway/config.js';

const MAIN = fileURLToPath(new URL('../../../gateway/cli/main.js', import.meta.url));

interface Run { code: number | null; stdout: string; stderr: string }

function cli(args: string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(o.input ?? '');
  });
}

async function ok(args: string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<string> {
  const r = await cli(args, o);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function fails(args: string[], code: string, exit = 1, o: { env?: Record<string, string> } = {}): Promise<string> {
  const r = await cli(args, o);
  assert.equal(r.code, exit, `${args.join(' ')} should exit ${exit}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error: ${code}: `), args.join(' '));
  return r.stderr;
}


let root: string;
before(() => { root = mkdtempSync(join(tmpdir(), 'ml-ceremony-cli-')); });
after(() => rmSync(root, { recursive: true, force: true }));

describe('keygen', { timeout: 60_000 }, () => {
  test('makes a 0600 node key in a 0700 data dir and prints its public key, nothing secret', async () => {
    const d = join(root, 'kg-a');
    const human = await ok(['keygen', '--data-dir', d, '--id', 'party-a']);
    const file = join(d, 'keys', 'validator.key');
    const key = loadKeyFile(file);
    assert.equal(key.alg, Alg.EdDSA);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(d).mode & 0o777, 0o700);
    assert.equal(statSync(join(d, 'keys')).mode & 0o777, 0o700);
    assert.ok(human.includes(toHex(key.publicKey)), human);
    assert.match(human, /genesis add-validator DRAFT --id party-a --public-key [0-9a-f]{64}/);
    const card = JSON.parse(await ok(['keygen', '--data-dir', d, '--id', 'party-a', '--show', '--json']));
    assert.deepEqual(card, { role: 'node', id: 'party-a', alg: 'Ed25519', publicKey: toHex(key.publicKey) });
    for (const s of secretForms(file)) assert.ok(!human.includes(s) && !JSON.stringify(card).includes(s), 'no form of the secret key is printed');
  });

  test('never overwrites a key: E_KEY_EXISTS and the file unchanged; the default id comes from the key', async () => {
    const d = join(root, 'kg-b');
    const card = JSON.parse(await ok(['keygen', '--data-dir', d, '--json']));
    assert.equal(card.id, `gw-${card.publicKey.slice(-8)}`);
    const before = readFileSync(join(d, 'keys', 'validator.key'));
    const e = await fails(['keygen', '--data-dir', d], 'E_KEY_EXISTS');
    assert.match(e, /--show/);
    assert.deepEqual(readFileSync(join(d, 'keys', 'validator.key')), before);
    assert.deepEqual(JSON.parse(await ok(['keygen', '--data-dir', d, '--show', '--json'])), card, '--show prints the same card');
  });

  test('operator keys (--out FILE or the data dir) and meter keys, Ed25519 or ES256', async () => {
    const f = join(root, 'kg-op', 'utility.key');
    const op = JSON.parse(await ok(['keygen', '--operator', '--out', f, '--alg', 'ES256', '--id', 'utility', '--json']));
    assert.deepEqual(op, { role: 'operator', id: 'utility', alg: 'ES256', publicKey: toHex(loadKeyFile(f).publicKey) });
    assert.equal(statSync(f).mode & 0o777, 0o600);
    const d = join(root, 'kg-m');
    const m = JSON.parse(await ok(['keygen', '--meter', '--data-dir', d, '--id', 'm-1', '--owner', 'john', '--json']));
    assert.deepEqual(m, { role: 'meter', id: 'm-1', alg: 'Ed25519', publicKey: toHex(loadKeyFile(join(d, 'keys', 'meters', 'm-1.key')).publicKey), owner: 'john' });
    const o2 = JSON.parse(await ok(['keygen', '--operator', '--data-dir', d, '--json']));
    assert.equal(o2.publicKey, toHex(loadKeyFile(join(d, 'keys', 'operator.key')).publicKey));
    await fails(['keygen', '--data-dir', join(root, 'kg-x'), '--alg', 'ES256'], 'E_USAGE', 2);
    await fails(['keygen', '--out', join(root, 'kg-x.key')], 'E_USAGE', 2);
    await fails(['keygen', '--operator'], 'E_USAGE', 2);
    await fails(['keygen', '--operator', '--meter', '--out', join(root, 'kg-y.key')], 'E_USAGE', 2);
    await fails(['keygen', '--data-dir', join(root, 'kg-z'), '--id', 'bad id'], 'E_USAGE', 2);
    assert.ok(!existsSync(join(root, 'kg-x')) && !existsSync(join(root, 'kg-z')), 'a refused keygen makes nothing');
  });
});

describe('genesis draft, finalize, install, and start refusing another genesis', { timeout: 120_000 }, () => {
  const parties = ['p0', 'p1', 'p2', 'p3'];
  const dir = (p: string) => join(root, 'c', p);
  const coord = () => join(root, 'c', 'coordinator');
  const draft = () => join(coord(), 'draft.json');
  let hash: string;

  before(async () => {
    mkdirSync(coord(), { recursive: true });
    for (const p of parties) writeFileSync(join(coord(), `${p}.card`), await ok(['keygen', '--data-dir', dir(p), '--id', p, '--json']));
    writeFileSync(join(coord(), 'op.card'), await ok(['keygen', '--operator', '--data-dir', dir('p0'), '--id', 'utility', '--json']));
    let meters = '';
    for (let i = 0; i < 3; i++) meters += await ok(['keygen', '--meter', '--data-dir', dir('p1'), '--id', `m-${i}`, '--alg', i === 1 ? 'ES256' : 'Ed25519', '--json']);
    writeFileSync(join(coord(), 'meters.jsonl'), meters);
  });

  test('a draft from cards: duplicates, wrong roles and bad keys refused, the draft left as it was', async () => {
    await ok(['genesis', 'new', draft(), '--chain-id', 'ceremony-cli', '--max-block-txs', '500']);
    await fails(['genesis', 'new', draft(), '--chain-id', 'other'], 'E_DRAFT_EXISTS');
    for (const p of parties.slice(0, 3)) await ok(['genesis', 'add-validator', draft(), '--card', join(coord(), `${p}.card`)]);
    // a card on standard input, with the power set by the coordinator
    await ok(['genesis', 'add-validator', draft(), '--card', '-', '--power', '2'], { input: readFileSync(join(coord(), 'p3.card'), 'utf8') });
    const before = readFileSync(draft());
    const dup = await fails(['genesis', 'add-validator', draft(), '--card', join(coord(), 'p1.card'), '--id', 'p1-again'], 'E_GENESIS_DUPLICATE');
    assert.match(dup, /validator "p1"/);
    await fails(['genesis', 'add-observer', draft(), '--card', join(coord(), 'p2.card')], 'E_GENESIS_DUPLICATE');
    await fails(['genesis', 'add-validator', draft(), '--card', join(coord(), 'op.card')], 'E_CARD_INVALID');
    await fails(['genesis', 'add-validator', draft(), '--id', 'x', '--public-key', 'abcd'], 'E_GENESIS_INVALID');
    await fails(['genesis', 'add-validator', draft(), '--id', 'x'], 'E_USAGE', 2);
    await fails(['genesis', 'add-validator', draft(), '--card', join(coord(), 'p0.card'), '--power', '0'], 'E_USAGE', 2);
    assert.deepEqual(readFileSync(draft()), before, 'a refused add changes nothing');
    await ok(['genesis', 'add-operator', draft(), '--card', join(coord(), 'op.card')]);
    const out = await ok(['genesis', 'add-meter', draft(), '--card', join(coord(), 'meters.jsonl'), '--owner', 'john']);
    assert.match(out, /added 3 meters .*4 validators \(total power 5\), 0 observers, 1 operator, 3 meters/);
    await fails(['genesis', 'hash', draft()], 'E_GENESIS_DRAFT');
  });

  test('finalize prints the hash that genesis hash and genesis show print for the file', async () => {
    const file = join(coord(), 'genesis.json');
    const out = await ok(['genesis', 'finalize', draft(), '--out', file]);
    const g = parseGenesis(JSON.parse(readFileSync(file, 'utf8')));
    hash = toHex(genesisHash(g));
    assert.ok(out.includes(`hash      ${hash}`), out);
    assert.equal((await ok(['genesis', 'hash', file])).trim(), hash);
    const shown = JSON.parse(await ok(['genesis', 'show', file, '--json']));
    assert.equal(shown.hash, hash);
    assert.deepEqual(g.validators.map((v) => [v.id, v.power]), [['p0', 1], ['p1', 1], ['p2', 1], ['p3', 2]]);
    assert.deepEqual(g.meters.map((m) => [m.id, m.owner, m.alg]), [['m-0', 'john', 'Ed25519'], ['m-1', 'john', 'ES256'], ['m-2', 'john', 'Ed25519']]);
    assert.equal(g.params.maxBlockTxs, 500);
    await fails(['genesis', 'finalize', draft(), '--out', file], 'E_GENESIS_EXISTS');
    const files = readdirSync(coord());
    for (const f of files) assert.doesNotMatch(readFileSync(join(coord(), f), 'utf8'), /PRIVATE KEY/, `${f} holds no key`);
  });

  test('install refuses a wrong hash, a tampered file, a stranger and a keyless dir, writing nothing', async () => {
    const file = join(coord(), 'genesis.json');
    const wrong = hash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    await fails(['genesis', 'install', file, '--data-dir', dir('p0'), '--expect-hash', wrong], 'E_GENESIS_MISMATCH');
    const tampered = join(root, 'tampered.json');
    const t = JSON.parse(readFileSync(file, 'utf8'));
    t.validators[0].power = 5;
    writeFileSync(tampered, JSON.stringify(t));
    await fails(['genesis', 'install', tampered, '--data-dir', dir('p0'), '--expect-hash', hash], 'E_GENESIS_MISMATCH');
    assert.ok(!existsSync(join(dir('p0'), 'genesis.json')) && !existsSync(join(dir('p0'), 'config.json')));
    await ok(['keygen', '--data-dir', join(root, 'stranger')]);
    await fails(['genesis', 'install', file, '--data-dir', join(root, 'stranger'), '--expect-hash', hash], 'E_NOT_IN_GENESIS');
    await fails(['genesis', 'install', file, '--data-dir', join(root, 'nobody'), '--expect-hash', hash], 'E_KEY_MISSING');
    await fails(['genesis', 'install', file, '--data-dir', dir('p0'), '--expect-hash', 'xyz'], 'E_USAGE', 2);
  });

  test('install writes genesis.json and pins genesisHash in config.json, keeping its fields and mode', async () => {
    const file = join(coord(), 'genesis.json');
    writeFileSync(join(dir('p1'), 'config.json'), JSON.stringify({ mqtt: { port: 0 } }), { mode: 0o640 });
    const out = await ok(['genesis', 'install', file, '--data-dir', dir('p1'), '--expect-hash', hash.toUpperCase()]);
    assert.match(out, /this node  validator "p1", power 1 of 5/);
    assert.deepEqual(JSON.parse(readFileSync(join(dir('p1'), 'config.json'), 'utf8')), { mqtt: { port: 0 }, genesisHash: hash });
    assert.equal(statSync(join(dir('p1'), 'config.json')).mode & 0o777, 0o640);
    assert.equal(toHex(genesisHash(parseGenesis(JSON.parse(readFileSync(join(dir('p1'), 'genesis.json'), 'utf8'))))), hash);
    assert.match(await ok(['genesis', 'install', file, '--data-dir', dir('p1'), '--expect-hash', hash]), /^already in/, 'installing again is harmless');
    assert.equal(loadConfig({ flags: { 'data-dir': dir('p1') } }).genesisHash, hash);
  });

  test('start refuses a genesis swapped in after install, a wrong --genesis-hash, and a keygen\'d dir without genesis', async () => {
    // Another genesis holding p1's key, copied over the installed one: the pin catches it.
    const other = join(coord(), 'other-draft.json');
    await ok(['genesis', 'new', other, '--chain-id', 'ceremony-other']);
    await ok(['genesis', 'add-validator', other, '--card', join(coord(), 'p1.card')]);
    const otherFile = join(coord(), 'other.json');
    await ok(['genesis', 'finalize', other, '--out', otherFile]);
    const otherHash = (await ok(['genesis', 'hash', otherFile])).trim();
    await fails(['genesis', 'install', otherFile, '--data-dir', dir('p1'), '--expect-hash', otherHash], 'E_DATADIR_EXISTS');
    const ports = ['--mqtt-port', '0', '--http-port', '0'];
    writeFileSync(join(dir('p1'), 'genesis.json'), readFileSync(otherFile));
    const e = await fails(['start', '--data-dir', dir('p1'), ...ports], 'E_GENESIS_MISMATCH');
    assert.ok(e.includes(otherHash) && e.includes(hash), e);
    assert.ok(!existsSync(join(dir('p1'), 'store')), 'refused before opening the store');
    // A pin given by flag or environment to a dir that has none in its config.
    await ok(['genesis', 'install', join(coord(), 'genesis.json'), '--data-dir', dir('p2'), '--expect-hash', hash]);
    writeFileSync(join(dir('p2'), 'config.json'), '{}');
    await fails(['start', '--data-dir', dir('p2'), ...ports, '--genesis-hash', otherHash], 'E_GENESIS_MISMATCH');
    await fails(['start', '--data-dir', dir('p2'), ...ports], 'E_GENESIS_MISMATCH', 1, { env: { METERLEDGER_GENESIS_HASH: otherHash } });
    await fails(['start', '--data-dir', dir('p2'), ...ports, '--genesis-hash', 'nothex'], 'E_CONFIG_INVALID');
    // keygen'd but nothing installed: no dev chain is made in its place
    const e2 = await fails(['start', '--data-dir', dir('p3'), ...ports], 'E_NO_GENESIS');
    assert.match(e2, /genesis install/);
    const empty = join(root, 'empty');
    await fails(['start', '--data-dir', empty, ...ports, '--genesis-hash', hash], 'E_NO_GENESIS');
    assert.ok(!existsSync(join(dir('p3'), 'genesis.json')) && !existsSync(join(empty, 'genesis.json')));
  });
});
