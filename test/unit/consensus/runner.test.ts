/**
 * The consensus runner over in-memory ports (virtual time, the in-memory record, a chain
 * of test blocks): a lone validator commits at once; a step that must not fail (its
 * record cannot be written) stops consensus before the message that depends on it leaves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256, utf8 } from '../../../protocols/index.js';
import { proposerOf } from '../../../ledger-node/consensus/proposer.js';
import type { PeerMessage } from '../../../protocols/index.js';
import { MemoryConsensusLog } from '../../../ledger-node/consensus/memory-log.js';
import { ConsensusRunner, HALTED } from '../../../ledger-node/consensus/runner.js';
import { DEFAULT_TIMEOUTS, fixedSets } from '../../../ledger-node/consensus/types.js';
import { SimChain, SimSigner } from '../../helpers/sim-chain.js';
import { VirtualClock } from '../../helpers/virtual-clock.js';

const noMetrics = { consensusRound() {}, consensusTimeout() {}, consensusStateUnrestorable() {}, evidence() {} };

function logger() {
  const lines: { level: string; o: object | string; m?: string }[] = [];
  const at = (level: string) => (o: object | string, m?: string) => void lines.push({ level, o, ...(m ? { m } : {}) });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

function runnerOf(validators: { id: string; power: number }[], me: string, withPeers: boolean) {
  const clock = new VirtualClock();
  const chain = new SimChain('sim', me, sha256(utf8('genesis')), clock, validators);
  const log = new MemoryConsensusLog();
  const sent: PeerMessage[] = [];
  const fatal: Error[] = [];
  const l = logger();
  const runner = new ConsensusRunner({
    sets: fixedSets(validators), me, timeouts: DEFAULT_TIMEOUTS, scheduler: clock, signer: new SimSigner(me, 'sim', chain.sets), chain,
    log: withPeers ? log : undefined, wire: withPeers ? (m) => void sent.push(m) : undefined,
    evidence: async () => {}, metrics: noMetrics, logger: l.logger, onFatal: (e) => void fatal.push(e),
  });
  return { clock, chain, log, sent, fatal, runner, lines: l.lines };
}

test('a lone validator (no peers, no record) commits each height in one step', async () => {
  const r = runnerOf([{ id: 'solo', power: 1 }], 'solo', false);
  await r.runner.open();
  for (let h = 1; h <= 3; h++) {
    r.runner.startHeight();
    await r.runner.idle();
    assert.equal(r.chain.blocks.length, h);
  }
  assert.equal(r.chain.blocks[2]!.commit.signatures.length, 1);
  assert.deepEqual(r.fatal, []);
});

test('a record that cannot be written stops consensus before the message that depends on it leaves (E_CONSENSUS_HALTED)', async () => {
  const validators = ['v0', 'v1', 'v2', 'v3'].map((id) => ({ id, power: 1 }));
  const proposer = proposerOf(validators, 1, 0);
  const r = runnerOf(validators, proposer, true);
  await r.runner.open();
  r.log.failNextSave = new Error('ENOSPC: no space left on device');
  r.runner.startHeight(); // as the proposer of round 0 it records, then sends, its proposal
  await r.runner.idle();
  assert.deepEqual(r.sent, [], 'nothing left');
  assert.equal(r.fatal.length, 1);
  assert.match(r.fatal[0]!.message, /ENOSPC/);
  assert.equal(r.runner.halted, true);
  assert.match(r.runner.failure ?? '', /^E_CONSENSUS_HALTED: ENOSPC/);
  assert.ok(r.lines.some((l) => l.level === 'error' && typeof l.o === 'object' && (l.o as { code?: string }).code === HALTED), JSON.stringify(r.lines));
  // Halted means halted: no timer runs a step, no message is taken.
  while (r.clock.runNext());
  r.runner.startHeight();
  await r.runner.idle();
  assert.deepEqual(r.sent, []);
});
