/**
 * The validator set changes on a running cluster (docs/protocol.md §13, docs/consensus.md
 * "Changing the validator set"), with the real CLI, real processes and a real nats-server:
 * four validators from a genesis of their cards; a fifth party makes its key and installs
 * the genesis with --node-id; its addition is drafted, approved by three parties with
 * their own keys, possessed by the new key, sealed and posted to one gateway without a
 * token; the fifth gateway starts from an empty store, syncs, and its precommits are in
 * the commit certificates from H + 2. Then party-3 is removed (approved by four of five),
 * stopped after H' + 2, and the four left keep committing; party-1 rotates its key (sealed
 * with the old one; the new key in its keys/validator.next.key) and, without a restart, certifies blocks again with it. Every store verifies, all hold
 * one chain, `verify --http` audits a gateway from genesis across the changes, and a
 * receipt of the last height verifies from genesis with the changes the API serves,
 * against the set of its height.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Genesis, parseGenesis } from '../../../protocols/index.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { GatewayProcess, TEST_ADMIN_TOKEN, cli } from '../../helpers/gateway-process.js';
import { TestMeter } from '../../helpers/mqtt-meter.js';
import { type NatsCluster, startNatsCluster } from '../../helpers/nats-cluster.js';
import { until } from '../../helpers/until.js';

const N = 5;

async function run(args: string[]): Promise<string> {
  const r = await cli(args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `meterledger ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Status { role: string; nodeId: string; height: number; headHash: string; consensus: { peers: string[] } }
interface BlockView { height: number; hash: string; commit: { signatures: { validator: string }[] } }

describe('a fifth validator added, one removed and one key rotated on a running four-validator cluster', { timeout: 600_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-setchange-'));
  const party = (i: number) => join(root, `party-${i}`);
  const genesisFile = join(root, 'genesis.json');
  const meterId = 'party-0-meter-0';
  let nats: NatsCluster;
  let genesis: Genesis;
  const gws: (GatewayProcess | undefined)[] = [];
  let meter: TestMeter | undefined;
  let seq = 0n;

  before(async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 1, dir: join(root, 'nats') });
  });

  after(async () => {
    await meter?.close().catch(() => {});
    await Promise.all(gws.map((g) => g?.stop().catch(() => null)));
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  const status = async (i: number): Promise<Status> => (await gws[i]!.json<Status>('/api/v1/status')).body;
  const block = async (i: number, h: number): Promise<BlockView | undefined> => {
    const r = await gws[i]!.json<BlockView>(`/api/v1/blocks/${h}`);
    return r.status === 200 ? r.body : undefined;
  };
  const live = (): number[] => gws.flatMap((g, i) => (g?.proc && g.proc.exitCode === null && g.proc.signalCode === null ? [i] : []));
  /** Publish `n` readings to party-0's gateway; each commits on every live gateway. */
  async function readings(n: number): Promise<void> {
    const mine: bigint[] = [];
    for (let k = 0; k < n; k++) {
      seq += 1n;
      await meter!.publish(seq);
      mine.push(seq);
    }
    await until(`readings up to ${seq} on every live gateway`, async () => {
      for (const i of live()) for (const s of mine) if ((await gws[i]!.get(`/api/v1/meters/${meterId}/receipts/${s}`)).status !== 200) return false;
      return true;
    }, 120_000);
  }
  async function post(i: number, file: string): Promise<string> {
    const r = await fetch(`${gws[i]!.httpUrl}/api/v1/tx`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: readFileSync(file) });
    const body = (await r.json()) as { txHash: string };
    assert.equal(r.status, 202, JSON.stringify(body));
    return body.txHash;
  }
  async function committedAt(txHash: string): Promise<number> {
    let height = 0;
    await until(`change ${txHash} committed`, async () => {
      const r = await fetch(`${gws[0]!.httpUrl}/api/v1/tx/${txHash}/receipt`);
      if (r.status !== 200) return false;
      height = ((await r.json()) as { height: number }).height;
      return true;
    }, 60_000);
    return height;
  }
  function config(i: number): void {
    const cfgPath = join(party(i), 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    cfg.nats = { servers: nats.urls };
    cfg.ledger = { ...cfg.ledger, blockIntervalMs: 300 };
    cfg.consensus = { proposeTimeoutMs: 800, prevoteTimeoutMs: 400, precommitTimeoutMs: 400 };
    writeFileSync(cfgPath, JSON.stringify(cfg));
  }

  test('five parties make their keys; genesis holds four; the fifth installs it with --node-id', async () => {
    for (let i = 0; i < N; i++) writeFileSync(join(root, `party-${i}.card`), await run(['keygen', '--data-dir', party(i), '--id', `party-${i}`, '--json']));
    writeFileSync(join(root, 'meter.card'), await run(['keygen', '--meter', '--data-dir', party(0), '--id', meterId, '--json']));
    writeFileSync(join(root, 'utility.card'), await run(['keygen', '--operator', '--data-dir', party(0), '--id', 'utility', '--json']));
    const draft = join(root, 'draft.json');
    await run(['genesis', 'new', draft, '--chain-id', 'setchange-e2e']);
    for (let i = 0; i < 4; i++) await run(['genesis', 'add-validator', draft, '--card', join(root, `party-${i}.card`)]);
    await run(['genesis', 'add-operator', draft, '--card', join(root, 'utility.card')]);
    await run(['genesis', 'add-meter', draft, '--card', join(root, 'meter.card')]);
    const out = await run(['genesis', 'finalize', draft, '--out', genesisFile]);
    const hash = /^hash +([0-9a-f]{64})$/m.exec(out)?.[1] ?? '';
    genesis = parseGenesis(JSON.parse(readFileSync(genesisFile, 'utf8')));
    for (let i = 0; i < 4; i++) await run(['genesis', 'install', genesisFile, '--data-dir', party(i), '--expect-hash', hash]);
    const refused = await cli(['genesis', 'install', genesisFile, '--data-dir', party(4), '--expect-hash', hash]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /E_NOT_IN_GENESIS/);
    assert.match(await run(['genesis', 'install', genesisFile, '--data-dir', party(4), '--expect-hash', hash, '--node-id', 'party-4']), /"party-4", a validator once a set change adds it/);
    for (let i = 0; i < N; i++) config(i);
  });

  test('the four start and commit; party-4\'s addition, approved by three, posted by anyone, commits at H', async () => {
    for (let i = 0; i < 4; i++) gws[i] = await GatewayProcess.create(party(i), ['--log-level', 'warn']);
    await Promise.all(gws.slice(0, 4).map((g) => g!.start(90_000)));
    await until('the four hear each other', async () => (await Promise.all([0, 1, 2, 3].map(status))).every((s) => s.consensus.peers.length >= 3), 60_000);
    meter = await TestMeter.connect(gws[0]!.mqttUrl, genesis, meterId, loadKeyFile(join(party(0), 'keys', 'meters', `${meterId}.key`)), { reconnectPeriod: 500 });
    await readings(3);

    const add = join(root, 'add.json');
    await run(['validator', 'add', add, '--genesis', genesisFile, '--card', join(root, 'party-4.card'), '--power', '1']);
    for (const i of [0, 1, 2]) await run(['validator', 'approve', add, '--data-dir', party(i)]);
    await run(['validator', 'possess', add, '--data-dir', party(4)]);
    await run(['validator', 'seal', add, '--data-dir', party(0), '--out', join(root, 'add.tx')]);
    const h = await committedAt(await post(2, join(root, 'add.tx')));
    const set = async (height: number) => ((await gws[1]!.json<{ validators: { id: string }[] }>(`/api/v1/validator-set?height=${height}`)).body.validators.map((v) => v.id));
    assert.deepEqual(await set(h + 1), ['party-0', 'party-1', 'party-2', 'party-3']);
    assert.deepEqual(await set(h + 2), ['party-0', 'party-1', 'party-2', 'party-3', 'party-4']);
    addedAt = h;
  });
  let addedAt = 0;

  test('party-4 starts from an empty store, syncs, and its precommits are in the certificates from H + 2', async () => {
    gws[4] = await GatewayProcess.create(party(4), ['--log-level', 'warn']);
    await gws[4]!.start(90_000, { until: 'listening' });
    let signed: number | undefined;
    await until('a block above H + 2 certified with party-4\'s precommit', async () => {
      await readings(1);
      const head = (await status(0)).height;
      for (let h = addedAt + 2; h <= head; h++) {
        const b = await block(0, h);
        if (b?.commit.signatures.some((s) => s.validator === 'party-4')) signed = h;
      }
      return signed !== undefined;
    }, 180_000);
    for (let h = 1; h < addedAt + 2; h++) {
      const b = await block(0, h);
      assert.ok(!b?.commit.signatures.some((s) => s.validator === 'party-4'), `no precommit of party-4 counts at ${h}`);
    }
    const st = await status(4);
    assert.deepEqual([st.role, st.nodeId], ['validator', 'party-4']);
  });

  test('party-3 is removed (four of five approve); after H\' + 2 it is stopped and the four left keep committing', async () => {
    const changes = await gws[0]!.json<{ cbor: string }>('/api/v1/validator-set/changes');
    writeFileSync(join(root, 'changes.cbor'), Buffer.from(changes.body.cbor, 'hex'));
    const rm = join(root, 'rm.json');
    await run(['validator', 'remove', rm, '--genesis', genesisFile, '--id', 'party-3', '--set-changes', join(root, 'changes.cbor')]);
    const known = ['--set-changes', join(root, 'changes.cbor')];
    for (const i of [0, 1, 2, 4]) await run(['validator', 'approve', rm, '--data-dir', party(i), ...known]);
    await run(['validator', 'seal', rm, '--data-dir', party(4), '--out', join(root, 'rm.tx'), ...known]);
    const h = await committedAt(await post(4, join(root, 'rm.tx')));
    // Blocks are cut only while transactions wait: readings carry the chain to H' + 2.
    await until('H\' + 2 committed', async () => {
      await readings(1);
      return (await status(0)).height >= h + 2;
    }, 120_000);
    assert.equal(await gws[3]!.stop(), 0, gws[3]!.stderr.slice(-2000));
    await readings(4);
    const head = (await status(0)).height;
    for (let k = h + 2; k <= head; k++) {
      const b = await block(0, k);
      assert.ok(b && !b.commit.signatures.some((s) => s.validator === 'party-3'), `party-3 signs nothing at ${k}`);
    }
  });

  test('party-1 rotates its key (sealed with its old key); with the new one as validator.next.key, its precommits certify blocks again without a restart', async () => {
    const next = join(root, 'party-1-next');
    writeFileSync(join(root, 'party-1-next.card'), await run(['keygen', '--data-dir', next, '--id', 'party-1', '--json']));
    const changes = await gws[0]!.json<{ cbor: string }>('/api/v1/validator-set/changes');
    writeFileSync(join(root, 'changes2.cbor'), Buffer.from(changes.body.cbor, 'hex'));
    const known = ['--set-changes', join(root, 'changes2.cbor')];
    const rot = join(root, 'rot.json');
    await run(['validator', 'rotate-key', rot, '--genesis', genesisFile, '--id', 'party-1', '--card', join(root, 'party-1-next.card'), ...known]);
    for (const i of [0, 1, 2]) await run(['validator', 'approve', rot, '--data-dir', party(i), ...known]);
    await run(['validator', 'possess', rot, '--data-dir', next]);
    await run(['validator', 'seal', rot, '--data-dir', party(1), '--out', join(root, 'rot.tx'), ...known]);
    // The new key goes in as keys/validator.next.key while party-1 runs: it switches by itself, no restart.
    copyFileSync(join(next, 'keys', 'validator.key'), join(party(1), 'keys', 'validator.next.key'));
    const pid = gws[1]!.proc!.pid;
    const h = await committedAt(await post(0, join(root, 'rot.tx')));
    let signed: number | undefined;
    await until('a block above H + 2 certified by party-1 with its new key', async () => {
      await readings(1);
      const head = (await status(0)).height;
      for (let k = h + 2; k <= head; k++) if ((await block(0, k))?.commit.signatures.some((x) => x.validator === 'party-1')) signed = k;
      return signed !== undefined;
    }, 180_000);
    const st = await status(1);
    assert.deepEqual([st.role, st.nodeId], ['validator', 'party-1']);
    assert.equal(gws[1]!.proc!.pid, pid, 'the same process: not restarted');
    assert.equal(existsSync(join(party(1), 'keys', 'validator.next.key')), false, 'the next key became the key file');
    assert.deepEqual(readFileSync(join(party(1), 'keys', 'validator.key')), readFileSync(join(next, 'keys', 'validator.key')));
  });

  test('one chain on all five stores, each verifies; a receipt verifies from genesis with the changes from the API', async () => {
    await until('one head on the four left', async () => new Set((await Promise.all([0, 1, 2, 4].map(status))).map((s) => `${s.height}/${s.headHash}`)).size === 1, 60_000);
    const receiptFile = join(root, 'last.json');
    writeFileSync(receiptFile, await (await gws[0]!.get(`/api/v1/meters/${meterId}/receipts/${seq}`)).text());
    const rv = await cli(['receipt', 'verify', receiptFile, '--genesis', genesisFile, '--set-changes-http', gws[1]!.httpUrl]);
    assert.equal(rv.code, 0, rv.stderr);
    assert.match(rv.stdout, /certified: by the validator set of height \d+ \(party-0, party-1, party-2, party-4\)/);

    // verify --http replays the chain from genesis through the raw blocks: it follows the changes in them.
    const remote = await cli(['verify', '--http', gws[4]!.httpUrl, '--genesis', genesisFile], { timeoutMs: 180_000, env: { METERLEDGER_HTTP_ADMIN_TOKEN: TEST_ADMIN_TOKEN } });
    assert.equal(remote.code, 0, remote.stdout + remote.stderr);
    assert.match(remote.stdout, /note: validator-set changes: the 3 the gateway serves verify from genesis, and are the chain's 3/);
    await meter?.close();
    meter = undefined;
    for (const i of [0, 1, 2, 4]) assert.equal(await gws[i]!.stop(), 0, gws[i]!.stderr.slice(-2000));
    copyFileSync(genesisFile, join(root, 'trusted.json'));
    for (let i = 0; i < N; i++) {
      const others = [0, 1, 2, 3, 4].filter((j) => j !== i).flatMap((j) => ['--compare-data-dir', party(j)]);
      const v = await cli(['verify', '--data-dir', party(i), ...others], { timeoutMs: 180_000 });
      assert.equal(v.code, 0, `${party(i)}: ${v.stdout}${v.stderr}`);
    }
  });
});
