/**
 * The NATS settings of a gateway that are not user/password: nkey authentication and TLS
 * with a private CA, against a real nats-server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { nkeys } from 'nats';
import { Alg } from '../../../protocols/index.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';
import { type NatsCarrierOptions, openNatsPeerLayer } from '../../../ledger-node/p2p/nats.js';
import type { PeerLayer } from '../../../ledger-node/p2p/peers.js';
import { startNatsServer } from '../../helpers/nats-cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'meterledger-nats-auth-'));
const servers: ChildProcess[] = [];
after(() => {
  for (const s of servers) s.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(name: string, conf: string): Promise<number> {
  const { port, proc } = await startNatsServer(dir, name, conf);
  servers.push(proc);
  return port;
}

const keys = { a: generateKeyPair(Alg.EdDSA), b: generateKeyPair(Alg.EdDSA) };
const peers = [{ id: 'a', publicKey: keys.a.publicKey }, { id: 'b', publicKey: keys.b.publicKey }];
/** The peer layer of `id` over NATS at `servers`, with `over` carrier options (auth, TLS). */
const open = async (id: 'a' | 'b', servers: string[], over: Partial<NatsCarrierOptions> = {}): Promise<PeerLayer> =>
  (await openNatsPeerLayer({ servers, name: `test/${id}`, ...over }, { chainId: 'auth-test', nodeId: id, nodeKey: keys[id].privateKey, peers })).layer;

async function exchange(a: PeerLayer, b: PeerLayer): Promise<void> {
  const got: string[] = [];
  b.onMessage((from, _kind, payload) => got.push(`${from}:${new TextDecoder().decode(payload)}`));
  const end = Date.now() + 10_000;
  while (!got.includes('a:hello')) {
    if (Date.now() > end) throw new Error('no message crossed');
    a.broadcast('tx', new TextEncoder().encode('hello'));
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('nkey authentication: the seed logs in, another seed is refused', { timeout: 30_000 }, async () => {
  const user = nkeys.createUser();
  const stranger = nkeys.createUser();
  const port = await startServer('nkey', `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }`);
  const seed = new TextDecoder().decode(user.getSeed());
  const url = [`nats://127.0.0.1:${port}`];
  const a = await open('a', url, { auth: { nkeySeed: seed } });
  const b = await open('b', url, { auth: { nkeySeed: seed } });
  try {
    await exchange(a, b);
  } finally {
    await a.close();
    await b.close();
  }
  await assert.rejects(open('a', url, { auth: { nkeySeed: new TextDecoder().decode(stranger.getSeed()) } }), { code: 'E_P2P_AUTH' });
});

test('TLS with a private CA: verified connection works; without the CA it is refused', { timeout: 30_000 }, async () => {
  const ca = join(dir, 'ca');
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-subj', '/CN=test-ca', '-days', '1']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'srv.key'), '-out', join(dir, 'srv.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(['x509', '-req', '-in', join(dir, 'srv.csr'), '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', join(dir, 'srv.crt'), '-days', '1', '-extfile', join(dir, 'ext.cnf')]);
  const port = await startServer('tls', `tls { cert_file: "${join(dir, 'srv.crt')}", key_file: "${join(dir, 'srv.key')}" }`);
  // A host name, not an IP: nats.js checks a TLS server's name only for host names.
  const url = [`tls://localhost:${port}`];
  const a = await open('a', url, { tls: { caFile: `${ca}.crt` } });
  const b = await open('b', url, { tls: { caFile: `${ca}.crt` } });
  try {
    await exchange(a, b);
  } finally {
    await a.close();
    await b.close();
  }
  // A certificate we cannot verify is configuration to fix, not an outage to wait out: refused at once.
  await assert.rejects(open('a', url), { code: 'E_P2P_TLS' });
});
