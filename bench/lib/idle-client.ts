/**
 * Many idle meters at little cost to the client side: raw TCP sockets that send one
 * MQTT 3.1.1 CONNECT (client id = username = meter id, a signed connect token as password,
 * CleanSession 0, keep-alive 0) and one SUBSCRIBE to the receipts topic at QoS 1, then
 * stay silent. Run as a child process: 'open' connects them all and reports; 'close' ends.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { TOKEN_PREFIX, connectTokenSignBytes, parseGenesis, receiptsTopic, toHex } from '../../protocols/index.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';
import { nativeSign } from '../../ledger-node/crypto/native.js';
import { connectPacket, subscribePacket } from '../../test/helpers/raw-mqtt.js';

export interface IdleOpen { port: number; dataDir: string; meterIds: string[]; concurrency: number }

const sockets: net.Socket[] = [];

export async function openIdle(o: IdleOpen): Promise<{ connected: number; failed: number; seconds: number }> {
  const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(o.dataDir).genesis, 'utf8')));
  const t0 = performance.now();
  let connected = 0;
  let failed = 0;
  const one = (id: string): Promise<void> => new Promise((resolve) => {
    const key = loadKeyFile(dataPaths(o.dataDir).meterKey(id));
    const t = Date.now();
    const token = `${TOKEN_PREFIX}.${t}.${toHex(nativeSign(key.alg, key.privateKey, connectTokenSignBytes(genesis.chainId, id, id, t)))}`;
    const s = net.connect({ port: o.port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    let state: 'connack' | 'suback' | 'idle' = 'connack';
    const fail = (): void => {
      if (state !== 'idle') {
        state = 'idle';
        failed++;
        s.destroy();
        resolve();
      }
    };
    const timer = setTimeout(fail, 30_000);
    s.on('error', fail);
    s.on('close', fail);
    s.on('connect', () => s.write(connectPacket(id, id, token)));
    s.on('data', (d: Buffer) => {
      if (state === 'idle') return;
      buf = Buffer.concat([buf, d]);
      if (state === 'connack' && buf.length >= 4) {
        if (buf[0] !== 0x20 || buf[3] !== 0) return fail();
        buf = buf.subarray(4);
        state = 'suback';
        s.write(subscribePacket(1, receiptsTopic(id)));
      }
      if (state === 'suback' && buf.length >= 5 && buf[0] === 0x90) {
        state = 'idle';
        clearTimeout(timer);
        connected++;
        sockets.push(s);
        resolve();
      }
    });
  });
  for (let i = 0; i < o.meterIds.length; i += o.concurrency) await Promise.all(o.meterIds.slice(i, i + o.concurrency).map(one));
  return { connected, failed, seconds: (performance.now() - t0) / 1000 };
}

if (process.send) {
  process.on('message', (m: { open?: IdleOpen; close?: true }) => {
    if (m.open) void openIdle(m.open).then((r) => process.send!({ opened: r }));
    if (m.close) {
      for (const s of sockets) s.destroy();
      process.send!({ closed: true }, () => process.exit(0));
    }
  });
}
