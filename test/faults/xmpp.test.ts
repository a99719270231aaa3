/**
 * The XMPP bridge attacked, on a real gateway process and a real Prosody (test/helpers/
 * prosody.ts): garbage stanzas, oversize stanzas, a flood from one meter account, stanzas
 * claiming another meter, and a Prosody restart under load. Every test is bounded in count
 * and time. Throughout: the gateway stays up and its bridge comes back online, every
 * refusal carries its reason code, and nothing acknowledged as accepted is lost.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { xml, type Element } from '@xmpp/xml';
import { type Genesis, ReasonCode, TxType, parseGenesis, signTx } from '../../protocols/index.js';
import { encodeBase64 } from '../../bridge/xmpp/base64.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { type KeyPair, loadKeyFile } from '../../ledger-node/keyfile.js';
import { summarize } from '../../gateway/sim/stats.js';
import { type Prosody, startProsody } from '../helpers/prosody.js';
import { NS_READING, NS_STANZAS, TestClient } from '../integration/xmpp/support.js';
import { type FaultChain, committedSeqs, faultChain, metric, rejectedBy, sleep, until } from './support.js';

const BOUND = ['meter-0001', 'meter-0002', 'meter-0003'] as const;
const ACCOUNTS = { gateway: 'gw-pass-0001', m1: 'm1-pass-0001', m2: 'm2-pass-0002', m3: 'm3-pass-0003', rogue: 'rogue-pass-0004' } as const;
const RATE = 20;
const BURST = 50;

/** What a stanza to the gateway came back as: our ack (status, code), an error reply (code), or nothing. */
function verdict(c: TestClient, id: string): { kind: 'ack'; status: string; code?: string; seq?: string } | { kind: 'error'; condition: string; code?: string } | undefined {
  for (const s of c.received) {
    const ack = s.getChild('ack', NS_READING);
    if (ack?.attrs.id === id) return { kind: 'ack', status: ack.attrs.status!, ...(ack.attrs.code ? { code: ack.attrs.code } : {}), ...(ack.attrs.seq ? { seq: ack.attrs.seq } : {}) };
    if (s.is('message') && s.attrs.type === 'error' && s.attrs.id === id) {
      const err = s.getChild('error');
      const condition = err?.children.find((x): x is Element => typeof x !== 'string' && x.attrs.xmlns === NS_STANZAS && x.name !== 'text')?.name ?? '?';
      return { kind: 'error', condition, ...(err?.getChild('refused', NS_READING)?.attrs.code ? { code: err.getChild('refused', NS_READING)!.attrs.code } : {}) };
    }
  }
  return undefined;
}

describe('fault: the XMPP bridge under attack (real Prosody)', { timeout: 420_000 }, () => {
  let prosody: Prosody;
  let c: FaultChain;
  let genesis: Genesis;
  let gwJid: string;
  const keys = new Map<string, KeyPair>();
  const clients: TestClient[] = [];
  let seqBase = BigInt(Date.now()) * 1000n;
  const nextSeq = (): bigint => ++seqBase;

  const sign = (meterId: string, seq: bigint, k = keys.get(meterId)!): Uint8Array =>
    signTx(genesis.chainId, k.alg, k.secretKey, { type: TxType.Reading, meterId, seq, time: Date.now(), importWh: Number(seq % 1_000_000n) });
  /** Log in as a meter does: again after a failed attempt (a busy server just restarted), a few times. */
  const login = async (user: keyof typeof ACCOUNTS): Promise<TestClient> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const t = await TestClient.connect(prosody, user, ACCOUNTS[user], `f-${randomBytes(3).toString('hex')}`);
        clients.push(t);
        return t;
      } catch (e) {
        if (attempt >= 5) throw e;
        await sleep(500 * attempt);
      }
    }
  };
  /** The gateway process is alive, healthy, and its bridge online. */
  const gatewayUp = async (what: string): Promise<void> => {
    assert.equal(c.gw.proc?.exitCode, null, `${what}: the gateway exited: ${c.gw.stderr.slice(-2000)}`);
    assert.equal((await fetch(`${c.gw.httpUrl}/healthz`)).status, 200, what);
    await until(`${what}: xmpp online`, async () => (await c.gw.json<{ xmpp?: { state: string } }>('/api/v1/status')).body.xmpp?.state === 'online', 30_000);
  };

  before(async () => {
    prosody = await startProsody({ accounts: ACCOUNTS });
    gwJid = `gateway@${prosody.domain}`;
    c = await faultChain({
      meters: 20, logLevel: 'warn',
      config: {
        ledger: { blockIntervalMs: 200, meterRatePerSecond: RATE, meterBurst: BURST },
        xmpp: {
          service: prosody.service, domain: prosody.domain, username: 'gateway', password: ACCOUNTS.gateway, resource: 'bridge',
          tls: { caFile: 'xmpp-ca.pem' }, reconnect: { minMs: 200, maxMs: 1000 },
        },
      },
    });
    writeFileSync(join(c.dir, 'xmpp-ca.pem'), prosody.ca!);
    // meter-000N is bound to account mN (genesis meters[].jid); meters 4..20 are bound to none.
    const gPath = dataPaths(c.dir).genesis;
    const doc = JSON.parse(readFileSync(gPath, 'utf8')) as { meters: { id: string; jid?: string }[] };
    BOUND.forEach((id, i) => (doc.meters.find((m) => m.id === id)!.jid = `m${i + 1}@${prosody.domain}`));
    writeFileSync(gPath, `${JSON.stringify(doc, null, 2)}\n`);
    genesis = parseGenesis(doc);
    for (const m of genesis.meters) keys.set(m.id, loadKeyFile(dataPaths(c.dir).meterKey(m.id)));
    await c.gw.start(60_000);
  });

  after(async () => {
    await Promise.all(clients.map((x) => x.close()));
    await c?.gw.stop();
    await prosody?.stop();
    if (c) rmSync(c.dir, { recursive: true, force: true });
  });

  test('garbage stanzas: ours are refused each with its code, foreign ones ignored; the bridge goes on', async () => {
    const rogue = await login('rogue');
    const m1 = await login('m1');
    const reading = (id: string, attrs: Record<string, string>, text: string | Element[], type?: string) =>
      xml('message', { to: gwJid, id, ...(type ? { type } : {}) }, xml('reading', { xmlns: NS_READING, ...attrs }, ...(typeof text === 'string' ? [text] : text)));
    const good = encodeBase64(sign('meter-0004', nextSeq()));
    const op = signTx(genesis.chainId, keys.get('meter-0004')!.alg, keys.get('meter-0004')!.secretKey, { type: TxType.MeterRevoke, meterId: 'meter-0004', time: Date.now() }, 'op');
    // [id, stanza, expected]: an error reply (condition, code), an ack (code), or nothing at all.
    type Want = { error: string; code: string } | { ack: string } | 'nothing';
    const cases: [string, Element, Want][] = [];
    for (let i = 0; i < 20; i++) {
      cases.push([`g-b64-${i}`, reading(`g-b64-${i}`, { meter: 'meter-0004' }, `%%not base64 ${i}%%`), { error: 'bad-request', code: ReasonCode.MALFORMED }]);
      cases.push([`g-rand-${i}`, reading(`g-rand-${i}`, { meter: 'meter-0004' }, encodeBase64(randomBytes(1 + i * 7))), { ack: ReasonCode.MALFORMED }]);
      cases.push([`g-nometer-${i}`, reading(`g-nometer-${i}`, {}, good), { error: 'bad-request', code: ReasonCode.MALFORMED }]);
      cases.push([`g-badmeter-${i}`, reading(`g-badmeter-${i}`, { meter: `../meter-${i}` }, good), { error: 'bad-request', code: ReasonCode.MALFORMED }]);
      cases.push([`g-empty-${i}`, reading(`g-empty-${i}`, { meter: 'meter-0004' }, ''), { error: 'bad-request', code: ReasonCode.MALFORMED }]);
      cases.push([`g-nested-${i}`, reading(`g-nested-${i}`, { meter: 'meter-0004' }, [xml('a', {}, xml('b', {}, xml('c', {}, 'x'.repeat(50))))]), { error: 'bad-request', code: ReasonCode.MALFORMED }]);
      cases.push([`g-op-${i}`, reading(`g-op-${i}`, { meter: 'meter-0004' }, encodeBase64(op)), { ack: ReasonCode.SCHEMA }]);
      cases.push([`g-headline-${i}`, reading(`g-headline-${i}`, { meter: 'meter-0004' }, good, 'headline'), 'nothing']);
      cases.push([`g-error-${i}`, reading(`g-error-${i}`, { meter: 'meter-0004' }, good, 'error'), 'nothing']);
      cases.push([`g-other-${i}`, xml('message', { to: gwJid, id: `g-other-${i}` }, xml('body', {}, 'hello'), xml('reading', { xmlns: 'urn:example:other' }, good)), 'nothing']);
    }
    cases.push(['g-longid', reading('x'.repeat(129), { meter: 'meter-0004' }, good), { error: 'bad-request', code: ReasonCode.MALFORMED }]);
    for (const [, el] of cases) await rogue.send(el);
    for (let i = 0; i < 50; i++) await rogue.send(xml('presence', { to: gwJid, type: 'subscribe' }));
    for (let i = 0; i < 20; i++) await rogue.send(xml('iq', { to: `${gwJid}/bridge`, type: 'get', id: `iq-${i}` }, xml('query', { xmlns: `urn:example:${i}` })));
    // A well-formed reading after all of that: answered as ever.
    const after1 = nextSeq();
    await m1.sendReading(gwJid, 'g-after', 'meter-0001', sign('meter-0001', after1));
    assert.equal((await m1.ack('g-after', 20_000)).attrs.status, 'accepted');
    await m1.receipt('g-after', 20_000);

    const answered = cases.filter(([, , w]) => w !== 'nothing');
    await until('every stanza of ours answered', () => answered.every(([id, el]) => verdict(rogue, el.attrs.id ?? id) !== undefined), 30_000);
    for (const [id, el, want] of cases) {
      const got = verdict(rogue, el.attrs.id ?? id);
      if (want === 'nothing') assert.equal(got, undefined, `${id} must be ignored`);
      else if ('error' in want) assert.deepEqual(got, { kind: 'error', condition: want.error, code: want.code }, id);
      else assert.equal(got?.kind === 'ack' && got.status === 'rejected' && got.code, want.ack, `${id}: ${JSON.stringify(got)}`);
    }
    const iqErrors = rogue.received.filter((s) => s.is('iq') && s.attrs.type === 'error' && s.getChild('error')?.getChild('service-unavailable', NS_STANZAS));
    assert.equal(iqErrors.length, 20, 'unknown iq: service-unavailable (RFC 6120 §8.4)');
    await gatewayUp('after garbage');
  });

  test('oversize: over maxPayloadBytes refused before decoding, over maxTxBytes by the intake, over Prosody\'s stanza limit costs the sender its stream only', async () => {
    const rogue = await login('rogue');
    const huge = 'A'.repeat(200_000); // base64 text of 150 KB: under Prosody's 256 KiB, over the bridge's 4096 bytes
    await rogue.send(xml('message', { to: gwJid, id: 'big-1' }, xml('reading', { xmlns: NS_READING, meter: 'meter-0005' }, huge)));
    await rogue.sendReading(gwJid, 'big-2', 'meter-0005', randomBytes(4000)); // under 4096, over the chain's 1024
    await until('both answered', () => verdict(rogue, 'big-1') !== undefined && verdict(rogue, 'big-2') !== undefined, 20_000);
    assert.deepEqual(verdict(rogue, 'big-1'), { kind: 'error', condition: 'policy-violation', code: ReasonCode.TOO_LARGE });
    assert.equal(verdict(rogue, 'big-2')?.kind === 'ack' && verdict(rogue, 'big-2')!.code, ReasonCode.TOO_LARGE);
    // Over Prosody's c2s_stanza_size_limit (256 KiB): the server closes the sender's stream; the gateway never sees it.
    const closer = await login('rogue');
    const closed = new Promise<void>((r) => closer.c.entity.once('disconnect', () => r()));
    await closer.send(xml('message', { to: gwJid, id: 'big-3' }, xml('reading', { xmlns: NS_READING, meter: 'meter-0005' }, 'A'.repeat(300_000)))).catch(() => undefined);
    await Promise.race([closed, sleep(20_000).then(() => assert.fail('Prosody kept the stream of a 300 KB stanza'))]);
    await gatewayUp('after oversize');
    const m2 = await login('m2');
    await m2.sendReading(gwJid, 'big-after', 'meter-0002', sign('meter-0002', nextSeq()));
    assert.equal((await m2.ack('big-after', 20_000)).attrs.status, 'accepted');
  });

  test('a flood from one meter account: every reading answered, the excess E_READING_RATE_LIMITED, all accepted committed; another meter keeps going', async (t) => {
    const flooder = await login('m1');
    const calm = await login('m3');
    const N = 600;
    const seqs = Array.from({ length: N }, () => nextSeq());
    const limitedBefore = await rejectedBy(c.gw.httpUrl, ReasonCode.RATE_LIMITED);
    const calmLatency: number[] = [];
    const calmSeqs: bigint[] = [];
    const calmLoop = (async () => {
      for (let i = 0; i < 10; i++) {
        const s = nextSeq();
        calmSeqs.push(s);
        const t0 = performance.now();
        await calm.sendReading(gwJid, `calm-${s}`, 'meter-0003', sign('meter-0003', s));
        await calm.ack(`calm-${s}`, 30_000);
        calmLatency.push(performance.now() - t0);
        await sleep(200);
      }
    })();
    const t0 = performance.now();
    await Promise.all(seqs.map((s) => flooder.sendReading(gwJid, `fl-${s}`, 'meter-0001', sign('meter-0001', s))));
    await until('every flooded reading answered', () => seqs.every((s) => verdict(flooder, `fl-${s}`) !== undefined), 90_000);
    const secs = (performance.now() - t0) / 1000;
    await calmLoop;
    const verdicts = seqs.map((s) => verdict(flooder, `fl-${s}`)!);
    const accepted = seqs.filter((_, i) => verdicts[i]!.kind === 'ack' && (verdicts[i] as { status: string }).status === 'accepted');
    const limited = verdicts.filter((v) => v.kind === 'ack' && v.code === ReasonCode.RATE_LIMITED).length;
    const other = verdicts.filter((v) => !(v.kind === 'ack' && (v.status === 'accepted' || v.code === ReasonCode.RATE_LIMITED)));
    t.diagnostic(`flood: ${N} in ${secs.toFixed(1)} s -> ${accepted.length} accepted, ${limited} E_READING_RATE_LIMITED, ${other.length} other; calm meter ack p50 ${summarize(calmLatency).p50} ms, p99 ${summarize(calmLatency).p99} ms`);
    assert.deepEqual(other, [], 'nothing but accepted or rate-limited');
    assert.ok(accepted.length >= BURST && accepted.length <= BURST + Math.ceil(secs * RATE) + 1, `accepted ${accepted.length} in ${secs.toFixed(1)} s`);
    assert.equal(await rejectedBy(c.gw.httpUrl, ReasonCode.RATE_LIMITED) - limitedBefore, limited, 'each refusal counted');
    await until('every accepted flooded reading committed', async () => {
      const have = await committedSeqs(c.gw, 'meter-0001');
      return accepted.every((s) => have.has(String(s)));
    }, 60_000);
    const calmCommitted = await committedSeqs(c.gw, 'meter-0003');
    for (const s of calmSeqs) assert.ok(calmCommitted.has(String(s)) || verdict(calm, `calm-${s}`)?.kind === 'ack', `calm ${s}`);
    await until('the calm meter\'s readings committed', async () => {
      const have = await committedSeqs(c.gw, 'meter-0003');
      return calmSeqs.every((s) => have.has(String(s)));
    }, 30_000);
    await gatewayUp('after the flood');
  });

  test('stanzas claiming another meter: refused with E_READING_WRONG_METER, a forged from does not help, nothing reaches the other meter', async () => {
    const m1 = await login('m1');
    const m2 = await login('m2');
    const theirs = nextSeq();
    const bytes = sign('meter-0002', theirs); // meter-0002's own, correctly signed reading
    await m1.sendReading(gwJid, 'claim-1', 'meter-0002', bytes); // meter-0002 is bound to m2
    await m1.sendReading(gwJid, 'claim-2', 'meter-0001', bytes); // attribute and reading disagree
    // A forged sender address: Prosody stamps the authenticated JID (RFC 6120 §8.1.2.1).
    await m1.send(xml('message', { to: gwJid, id: 'claim-3', from: `m2@${prosody.domain}/forged` }, xml('reading', { xmlns: NS_READING, meter: 'meter-0002' }, encodeBase64(bytes))));
    await until('three answers', () => ['claim-1', 'claim-2', 'claim-3'].every((id) => verdict(m1, id) !== undefined), 20_000);
    for (const id of ['claim-1', 'claim-2', 'claim-3']) {
      const v = verdict(m1, id)!;
      assert.equal(v.kind === 'ack' && v.status === 'rejected' && v.code, ReasonCode.WRONG_METER, `${id}: ${JSON.stringify(v)}`);
    }
    assert.equal(m2.received.filter((s) => s.getChild('ack', NS_READING) || s.getChild('receipt', NS_READING)).length, 0, 'nothing went to the account the stanza claimed');
    assert.equal((await committedSeqs(c.gw, 'meter-0002')).has(String(theirs)), false);
    // The bound account sends the same bytes: accepted and receipted.
    await m2.sendReading(gwJid, 'claim-ok', 'meter-0002', bytes);
    assert.equal((await m2.ack('claim-ok', 20_000)).attrs.status, 'accepted');
    await m2.receipt('claim-ok', 20_000);
    await gatewayUp('after the claims');
  });

  test('Prosody restarted under load: the gateway stays up and comes back online; every reading is answered in the end (meters resend what got no ack) and every accepted one committed', async (t) => {
    const meters = [['m1', 'meter-0001'], ['m2', 'meter-0002'], ['m3', 'meter-0003']] as const;
    const PER = 40;
    const plan = meters.map(([user, id]) => ({ user, id, seqs: Array.from({ length: PER }, () => nextSeq()) }));
    // Signed once per seq, as a meter keeps a reading until it is acknowledged.
    const signed = new Map(plan.flatMap((p) => p.seqs.map((s) => [s, sign(p.id, s)] as const)));
    let sessions = await Promise.all(plan.map((p) => login(p.user)));
    // Steady load: each meter one reading every 50 ms; the restart comes a third of the way in.
    const sending = Promise.all(plan.map(async (p, i) => {
      for (const s of p.seqs) {
        await sessions[i]!.sendReading(gwJid, `rs-${s}`, p.id, signed.get(s)!).catch(() => undefined); // a send into a dying stream may fail
        await sleep(50);
      }
    }));
    await sleep(700);
    await prosody.restart({ downMs: 1500 });
    await sending;
    await gatewayUp('after the Prosody restart');
    // The meters log in again and, like real meters, resend each reading that got no ack (same bytes are a
    // retransmission, docs/protocol.md §3.8: accepted again, its receipt sent again).
    const acked = (id: string): boolean => clients.some((x) => verdict(x, id)?.kind === 'ack');
    sessions = await Promise.all(plan.map((p) => login(p.user)));
    let resent = 0;
    for (let round = 0; round < 5 && !plan.every((p) => p.seqs.every((s) => acked(`rs-${s}`))); round++) {
      await Promise.all(plan.map(async (p, i) => {
        for (const s of p.seqs) {
          if (acked(`rs-${s}`)) continue;
          resent++;
          await sessions[i]!.sendReading(gwJid, `rs-${s}`, p.id, signed.get(s)!);
        }
      }));
      await until('answers to the resent readings', () => plan.every((p) => p.seqs.every((s) => acked(`rs-${s}`))), 20_000).catch(() => undefined);
    }
    t.diagnostic(`restart under load: ${meters.length * PER} readings, ${resent} resent after the restart`);
    const unanswered = plan.flatMap((p) => p.seqs.filter((s) => !acked(`rs-${s}`)).map((s) => `${p.id}/${s}`));
    assert.deepEqual(unanswered, [], 'every reading answered after resends');
    // Resending the same bytes is a retransmission, never a replay, and 20 readings/s per meter
    // is within the rate: every answer is "accepted", on whichever session it arrived.
    const rejected = plan.flatMap((p) => p.seqs.flatMap((s) => clients.map((x) => verdict(x, `rs-${s}`)).filter((v) => v?.kind === 'ack' && v.status === 'rejected').map((v) => `${p.id}/${s}: ${(v as { code?: string }).code}`)));
    assert.deepEqual(rejected, []);
    for (const p of plan) {
      await until(`${p.id}: every reading committed`, async () => {
        const have = await committedSeqs(c.gw, p.id);
        return p.seqs.every((s) => have.has(String(s)));
      }, 60_000);
    }
    assert.equal(await metric(c.gw.httpUrl, 'meterledger_xmpp_connected'), 1);
    // The gateway's log over the whole suite: no errors, and each failed login while Prosody was
    // down reported once ("xmpp reconnect failed"), not twice.
    const lines = c.gw.stderr.split('\n').filter((l) => l.startsWith('{'));
    assert.deepEqual(lines.filter((l) => /"level":(50|60)/.test(l)), []);
    assert.ok(lines.some((l) => /xmpp reconnect failed/.test(l)), 'the outage was seen');
    assert.deepEqual(lines.filter((l) => /"msg":"xmpp error"/.test(l) && /ECONNREFUSED/.test(l)), []);
  });
});
