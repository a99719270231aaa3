/**
 * `meterledger testnet`: a local cluster on one machine: a shared genesis and one data
 * dir per gateway (DIR/node0 ...) with its node key, its own meters and a config.json
 * with the listen address, distinct MQTT and HTTP ports (base + i) and the NATS servers.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type MeterAlgChoice, initCluster } from '../../../ledger-node/devchain.js';
import { redactUrls } from '../../../ledger-node/p2p/redact.js';
import { UsageError } from '../../errors.js';
import { type CommandSpec, intFlag, need, optionalString, out } from '../args.js';

export const TESTNET_MQTT_BASE = 1883;
export const TESTNET_HTTP_BASE = 8080;
export const TESTNET_HOST = '127.0.0.1';

export const testnetCommand: CommandSpec = {
  name: 'testnet',
  summary: 'Write a local cluster: a shared genesis and DIR/node0, DIR/node1 ... each with its key, its own meters and a config.json (MQTT port base+i, HTTP port base+i, the NATS servers). Start each with meterledger start --data-dir DIR/nodeI.',
  options: {
    validators: { type: 'string', value: 'N', required: true, help: 'validators (voting gateways)' },
    observers: { type: 'string', value: 'M', help: 'observers (non-voting gateways), default 0' },
    meters: { type: 'string', value: 'K', help: 'meters per gateway, default 10' },
    'meter-alg': { type: 'string', value: 'ALG', help: 'Ed25519 (default), ES256 or mixed' },
    out: { type: 'string', value: 'DIR', required: true, help: 'folder for the node data dirs' },
    nats: { type: 'string', value: 'URL', help: 'NATS server URL(s), comma-separated (default nats://127.0.0.1:4222)' },
    'chain-id': { type: 'string', value: 'ID', help: 'chain id (default testnet-<random>)' },
    host: { type: 'string', value: 'HOST', help: `address every gateway listens on, MQTT and HTTP (default ${TESTNET_HOST})` },
    'mqtt-base-port': { type: 'string', value: 'P', help: `MQTT port of node0; nodeI gets P+I (default ${TESTNET_MQTT_BASE})` },
    'http-base-port': { type: 'string', value: 'P', help: `HTTP port of node0; nodeI gets P+I (default ${TESTNET_HTTP_BASE})` },
  },
  async run(args) {
    const validators = intFlag(args, 'validators', 'testnet', 1, 100)!;
    const observers = intFlag(args, 'observers', 'testnet', 0, 100, 0)!;
    const meters = intFlag(args, 'meters', 'testnet', 0, 100_000, 10)!;
    const alg = optionalString(args, 'meter-alg') ?? 'Ed25519';
    if (!['Ed25519', 'ES256', 'mixed'].includes(alg)) throw new UsageError('--meter-alg must be Ed25519, ES256 or mixed');
    const dir = resolve(need(args, 'out', 'testnet'));
    const servers = (optionalString(args, 'nats') ?? 'nats://127.0.0.1:4222').split(',').map((s) => s.trim()).filter(Boolean);
    const chainId = optionalString(args, 'chain-id');
    const n = validators + observers;
    const host = optionalString(args, 'host') ?? TESTNET_HOST;
    if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(host)) throw new UsageError('--host must be a host name or IP address');
    const mqttBase = intFlag(args, 'mqtt-base-port', 'testnet', 1, 65536 - n, TESTNET_MQTT_BASE)!;
    const httpBase = intFlag(args, 'http-base-port', 'testnet', 1, 65536 - n, TESTNET_HTTP_BASE)!;
    if (mqttBase < httpBase + n && httpBase < mqttBase + n) {
      throw new UsageError(`the MQTT ports ${mqttBase}..${mqttBase + n - 1} and HTTP ports ${httpBase}..${httpBase + n - 1} overlap; move one base port`);
    }
    const dirs = Array.from({ length: n }, (_, i) => join(dir, `node${i}`));
    const { genesis, nodeIds, meterIds } = initCluster(dirs, {
      validators, observers, metersPerNode: meters, meterAlg: alg as MeterAlgChoice, ...(chainId !== undefined ? { chainId } : {}),
    });
    dirs.forEach((d, i) => {
      const config = { mqtt: { host, port: mqttBase + i }, http: { host, port: httpBase + i }, nats: { servers } };
      writeFileSync(join(d, 'config.json'), JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
    });
    out(`chain id: ${genesis.chainId}`);
    dirs.forEach((d, i) => out(`${nodeIds[i]}: ${d} (mqtt ${host}:${mqttBase + i}, http ${host}:${httpBase + i}, ${meterIds[i]!.length} meters)`));
    out(`nats:     ${redactUrls(servers.join(', '))}`);
    out(`next:     meterledger start --data-dir ${dirs[0]} (and each of the others)`);
    return 0;
  },
};
