/**
 * A consortium formed the way docs/consensus.md ("Forming a consortium") says, with the
 * real CLI and real processes: four parties each make their node key and their meters'
 * keys in a data dir of their own (`meterledger keygen`); a fifth, the coordinator, builds
 * the genesis from their public cards only (`genesis new|add-*|finalize`); each party
 * checks the hash and installs it (`genesis install --expect-hash`); no data dir ever holds
 * another's secret key; the four validators start from it on a real nats-server, the
 * meters publish to their own party's gateway, and every reading commits on all four
 * under one head hash; every store verifies.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Genesis, genesisHash, parseGenesis, toHex } from '../../../protocols/index.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { secretForms } from '../../helpers/secrets.js';
import { GatewayProcess, cli } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { until } from '../../helpers/until.js';

const N = 4;
const METERS_PER_PARTY = 2;

async function run(args: string[]): Promise<string> {
  const r = await cli(args, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `meterledger ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  });
}


describe('a consortium formed by four parties from public keys only', { timeout: 300_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-ceremony-'));
  const party = (i: number) => join(root, `party-${i}`);
  const coordinator = join(root, 'coordinator');
  const meterId = (i: number, k: number) => `party-${i}-meter-${k}`;
  let nats: NatsCluster;
  let announced: string;
  let genesis: Genesis;
  const gws: GatewayProcess[] = [];
  const meters: TestMeter[] = [];

  before(async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 1, dir: join(root, 'nats') });
  });

  after(async () => {
    for (const m of meters) await m.close().catch(() => {});
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('each party makes its own keys; the coordinator assembles the genesis from their public cards', async () => {
    mkdirSync(coordinator);
    // What each party sends the coordinator: stdout of keygen --json, public by construction.
    const inbox = (name: string, text: string) => writeFileSync(join(coordinator, name), text);
    for (let i = 0; i < N; i++) {
      inbox(`party-${i}.card`, await run(['keygen', '--data-dir', party(i), '--id', `party-${i}`, '--json']));
      let cards = '';
      for (let k = 0; k < METERS_PER_PARTY; k++) {
        cards += await run(['keygen', '--meter', '--data-dir', party(i), '--id', meterId(i, k), '--alg', k % 2 ? 'ES256' : 'Ed25519', '--owner', `owner-${i}`, '--json']);
      }
      inbox(`party-${i}-meters.jsonl`, cards);
    }
    inbox('utility.card', await run(['keygen', '--operator', '--data-dir', party(0), '--id', 'utility', '--json']));

    const draft = join(coordinator, 'draft.json');
    await run(['genesis', 'new', draft, '--chain-id', 'ceremony-e2e']);
    for (let i = 0; i < N; i++) await run(['genesis', 'add-validator', draft, '--card', join(coordinator, `party-${i}.card`)]);
    await run(['genesis', 'add-operator', draft, '--card', join(coordinator, 'utility.card')]);
    for (let i = 0; i < N; i++) await run(['genesis', 'add-meter', draft, '--card', join(coordinator, `party-${i}-meters.jsonl`)]);
    const out = await run(['genesis', 'finalize', draft, '--out', join(coordinator, 'genesis.json')]);
    announced = /^hash +([0-9a-f]{64})$/m.exec(out)?.[1] ?? '';
    assert.match(announced, /^[0-9a-f]{64}$/, out);
    genesis = parseGenesis(JSON.parse(readFileSync(join(coordinator, 'genesis.json'), 'utf8')));
    assert.deepEqual(genesis.validators.map((v) => v.id), ['party-0', 'party-1', 'party-2', 'party-3']);
    assert.equal(genesis.meters.length, N * METERS_PER_PARTY);
    for (let i = 0; i < N; i++) {
      assert.equal(genesis.validators[i]!.publicKey, toHex(loadKeyFile(join(party(i), 'keys', 'validator.key')).publicKey));
    }
  });

  test('every party checks the hash of the file it received and installs it', async () => {
    for (let i = 0; i < N; i++) {
      // the file travels to the party; the hash comes by another channel (`announced`)
      const received = join(root, `received-${i}.json`);
      copyFileSync(join(coordinator, 'genesis.json'), received);
      assert.equal((await run(['genesis', 'hash', received])).trim(), announced);
      const out = await run(['genesis', 'install', received, '--data-dir', party(i), '--expect-hash', announced]);
      assert.match(out, new RegExp(`this node  validator "party-${i}", power 1 of 4`));
      assert.equal(JSON.parse(readFileSync(join(party(i), 'config.json'), 'utf8')).genesisHash, announced);
    }
  });

  test('no data dir holds a secret key of another, the coordinator\'s none at all', () => {
    const dirs = [...Array.from({ length: N }, (_, i) => party(i)), coordinator];
    const own = (d: string): string[] => (d === coordinator ? [] : filesUnder(d).filter((f) => readFileSync(f, 'utf8').includes('PRIVATE KEY')));
    // Each party's key files are exactly its node key, its meters' keys (and party-0's operator key).
    for (let i = 0; i < N; i++) {
      const names = own(party(i)).map((f) => f.slice(party(i).length + 1)).sort();
      const expected = ['keys/validator.key', ...Array.from({ length: METERS_PER_PARTY }, (_, k) => `keys/meters/${meterId(i, k)}.key`), ...(i === 0 ? ['keys/operator.key'] : [])].sort();
      assert.deepEqual(names, expected, `party-${i}'s key files`);
      for (const f of own(party(i))) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    }
    for (const f of filesUnder(coordinator)) assert.doesNotMatch(readFileSync(f, 'utf8'), /PRIVATE KEY/, `${f}: the coordinator holds no secret key`);
    // And no form of any party's secret appears in any file of another dir.
    for (const d of dirs) {
      const secrets = own(d).flatMap(secretForms);
      for (const other of dirs.filter((x) => x !== d)) {
        for (const f of filesUnder(other)) {
          const text = readFileSync(f, 'latin1');
          for (const s of secrets) assert.ok(!text.includes(s), `${f} holds a secret of ${d}`);
        }
      }
    }
  });

  test('the four validators start from the installed genesis on NATS and commit every party\'s readings with one head', async () => {
    for (let i = 0; i < N; i++) {
      const cfgPath = join(party(i), 'config.json');
      const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
      cfg.nats = { servers: nats.urls };
      cfg.ledger = { blockIntervalMs: 300 };
      cfg.consensus = { proposeTimeoutMs: 800, prevoteTimeoutMs: 400, precommitTimeoutMs: 400 };
      writeFileSync(cfgPath, JSON.stringify(cfg));
      gws.push(await GatewayProcess.create(party(i), ['--log-level', 'warn']));
    }
    await Promise.all(gws.map((g) => g.start(60_000)));
    for (const g of gws) assert.ok(g.stdout.includes(`(genesis ${announced})`), g.stdout.slice(-500));
    const status = async (i: number) => (await gws[i]!.json<{ role: string; nodeId: string; height: number; headHash: string; consensus: { peers: string[] } }>('/api/v1/status')).body;
    for (let i = 0; i < N; i++) assert.deepEqual([(await status(i)).role, (await status(i)).nodeId], ['validator', `party-${i}`]);
    await until('the validators hear each other', async () => (await Promise.all(gws.map((_, i) => status(i)))).every((s) => s.consensus.peers.length >= N - 1), 60_000);

    const acked: { meterId: string; seq: bigint }[] = [];
    for (let i = 0; i < N; i++) {
      for (let k = 0; k < METERS_PER_PARTY; k++) {
        const id = meterId(i, k);
        const m = await TestMeter.connect(gws[i]!.mqttUrl, genesis, id, loadKeyFile(join(party(i), 'keys', 'meters', `${id}.key`)), { reconnectPeriod: 500 });
        meters.push(m);
        for (let seq = 1n; seq <= 3n; seq++) {
          await m.publish(seq);
          acked.push({ meterId: id, seq });
        }
      }
    }
    const hasReading = async (i: number, id: string, seq: bigint) => (await gws[i]!.get(`/api/v1/meters/${id}/receipts/${seq}`)).status === 200;
    await until('every reading committed on every gateway', async () => {
      for (const a of acked) for (let i = 0; i < N; i++) if (!(await hasReading(i, a.meterId, a.seq))) return false;
      return true;
    }, 90_000);
    await until('each meter got a committed receipt for each reading from its gateway', () => meters.every((m) => m.committedSeqs().size === 3), 30_000);
    await until('one height and head on all four', async () => {
      const st = await Promise.all(gws.map((_, i) => status(i)));
      return st[0]!.height > 0 && new Set(st.map((s) => `${s.height}/${s.headHash}`)).size === 1;
    }, 60_000);
    assert.notEqual((await status(0)).headHash, toHex(genesisHash(genesis)), 'blocks were committed on top of the genesis');

    for (const m of meters.splice(0)) await m.close();
    for (const g of gws) assert.equal(await g.stop(), 0, g.stderr.slice(-2000));
    for (const g of gws) {
      const v = await cli(['verify', '--data-dir', g.dataDir], { timeoutMs: 120_000 });
      assert.equal(v.code, 0, `${g.dataDir}: ${v.stdout}${v.stderr}`);
    }
  });
});
