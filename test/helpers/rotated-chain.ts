/**
 * The cheapest real chain with a validator-set change (docs/protocol.md §13): a dev chain
 * (`meterledger init`, one validator) whose validator rotates its own node key with the
 * real CLI (keygen, validator rotate-key, approve, possess, seal) posted to the running
 * gateway without a token. `readingsBefore` readings of meter-0001 commit under the
 * genesis key first; after the rotation commits at H, one more reading commits at a
 * height >= H + 1 (the last one the old key signs). Then, unless `nextKeyFile`, the
 * operator swaps the key file and restarts; with `nextKeyFile` the new key sits in
 * keys/validator.next.key from before the rotation and the gateway switches by itself
 * (docs/consensus.md "Changing the validator set"). Readings from then on are certified
 * by the new key, from H + 2.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Genesis, parseGenesis } from '../../protocols/index.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';
import { GatewayProcess, cli } from './gateway-process.js';
import { TestMeter } from './mqtt-meter.js';
import { until } from './until.js';

export const ROTATED_METER = 'meter-0001';

export interface RotatedChain {
  readonly gw: GatewayProcess;
  readonly genesis: Genesis;
  readonly genesisFile: string;
  readonly validatorId: string;
  /** The height of the block holding the rotation; the new key is in force from rotationHeight + 2. */
  readonly rotationHeight: number;
  /** meter-0001, connected to the gateway; its readings 1..seq are committed. */
  readonly meter: TestMeter;
  seq: bigint;
  /** Publish `n` more readings of meter-0001 and wait for their receipts. */
  readings(n: number): Promise<void>;
}

async function run(args: string[]): Promise<string> {
  const r = await cli(args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `meterledger ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

export async function rotatedChain(dir: string, opts: { readingsBefore?: number; nextKeyFile?: boolean; gatewayArgs?: string[] } = {}): Promise<RotatedChain> {
  await run(['init', '--data-dir', dir, '--meters', '2']);
  const cfgFile = join(dir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify({ ledger: { blockIntervalMs: 200 } }));
  const paths = dataPaths(dir);
  const genesisFile = paths.genesis;
  const genesis = parseGenesis(JSON.parse(readFileSync(genesisFile, 'utf8')));
  const validatorId = genesis.validators[0]!.id;
  const next = join(dir, '..', `${validatorId}-next`);
  const card = join(dir, '..', 'next.card');
  writeFileSync(card, await run(['keygen', '--data-dir', next, '--id', validatorId, '--json']));
  const nextKey = join(next, 'keys', 'validator.key');
  if (opts.nextKeyFile) copyFileSync(nextKey, join(dir, 'keys', 'validator.next.key'));

  const gw = await GatewayProcess.create(dir, ['--log-level', 'warn', ...(opts.gatewayArgs ?? [])]);
  await gw.start(60_000);
  let meter = await TestMeter.connect(gw.mqttUrl, genesis, ROTATED_METER, loadKeyFile(paths.meterKey(ROTATED_METER)));
  const chain: RotatedChain = {
    gw, genesis, genesisFile, validatorId, rotationHeight: 0, meter, seq: 0n,
    async readings(n) {
      const mine: bigint[] = [];
      for (let k = 0; k < n; k++) {
        chain.seq += 1n;
        await chain.meter.publish(chain.seq);
        mine.push(chain.seq);
      }
      await until(`readings up to ${chain.seq} committed`, async () => {
        for (const s of mine) if ((await gw.get(`/api/v1/meters/${ROTATED_METER}/receipts/${s}`)).status !== 200) return false;
        return true;
      }, 60_000);
    },
  };
  await chain.readings(opts.readingsBefore ?? 0);

  const draft = join(dir, '..', 'rotate.json');
  const tx = join(dir, '..', 'rotate.tx');
  await run(['validator', 'rotate-key', draft, '--genesis', genesisFile, '--id', validatorId, '--card', card]);
  await run(['validator', 'approve', draft, '--data-dir', dir]);
  await run(['validator', 'possess', draft, '--data-dir', next]);
  await run(['validator', 'seal', draft, '--data-dir', dir, '--out', tx]);
  const posted = await fetch(`${gw.httpUrl}/api/v1/tx`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: readFileSync(tx) });
  const { txHash } = (await posted.json()) as { txHash: string };
  assert.equal(posted.status, 202, txHash);
  let height = 0;
  await until('the rotation committed', async () => {
    const r = await fetch(`${gw.httpUrl}/api/v1/tx/${txHash}/receipt`);
    if (r.status !== 200) return false;
    height = ((await r.json()) as { height: number }).height;
    return true;
  }, 30_000);
  (chain as { rotationHeight: number }).rotationHeight = height;
  // Height H + 1 is still the old key's: a lone validator must commit it before it can only sign with the new one.
  await until(`a block at H + 1 = ${height + 1}`, async () => {
    await chain.readings(1);
    return ((await gw.json<{ height: number }>('/api/v1/status')).body.height) >= height + 1;
  }, 60_000);
  if (!opts.nextKeyFile) {
    await meter.close();
    assert.equal(await gw.stop(), 0, gw.stderr.slice(-2000));
    copyFileSync(nextKey, paths.validatorKey);
    await gw.start(60_000);
    meter = await TestMeter.connect(gw.mqttUrl, genesis, ROTATED_METER, loadKeyFile(paths.meterKey(ROTATED_METER)));
    (chain as { meter: TestMeter }).meter = meter;
  }
  return chain;
}
