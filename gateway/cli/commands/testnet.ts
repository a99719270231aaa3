/**
 * `meterledger testnet`: a local cluster on one machine: a shared genesis and one data
 * dir per gateway (DIR/node0 ...) with its node key, its own meters and a config.json
 * with the listen address, distinct MQTT and HTTP ports (base + i) and the NATS servers.
 * With --billing the chain bills (EUR, a short cycle, an account per meter): node0 holds the
 * operator key (registrar, biller, custodian), the accounts' keys, the set-up plan it
 * submits at its first start and billing.autoIssue, as `init --billing` does for one gateway.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEV_BILLING_CYCLE_MS, DEV_PAYEE, type MeterAlgChoice, initCluster } from '../../../ledger-node/devchain.js';
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
    billing: { type: 'boolean', help: 'a cluster that bills: EUR, a short billing cycle, an account per meter; node0 sets it up at its first start and issues the bills (billing.autoIssue)' },
    'cycle-s': { type: 'string', value: 'S', help: `with --billing: length of a billing period in seconds (default ${DEV_BILLING_CYCLE_MS / 1000})` },
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
    const billing = args.values.billing === true;
    const cycleS = intFlag(args, 'cycle-s', 'testnet', 1, 366 * 86_400, DEV_BILLING_CYCLE_MS / 1000)!;
    if (!billing && args.values['cycle-s'] !== undefined) throw new UsageError('--cycle-s needs --billing');
    const dirs = Array.from({ length: n }, (_, i) => join(dir, `node${i}`));
    const { genesis, nodeIds, meterIds } = initCluster(dirs, {
      validators, observers, metersPerNode: meters, meterAlg: alg as MeterAlgChoice, ...(chainId !== undefined ? { chainId } : {}),
      ...(billing ? { billing: { cycleMs: cycleS * 1000 } } : {}),
    });
    dirs.forEach((d, i) => {
      // With --billing node0's dir holds a config.json already (billing.autoIssue): kept, with the addresses added.
      const file = join(d, 'config.json');
      const before = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
      const config = { ...before, mqtt: { host, port: mqttBase + i }, http: { host, port: httpBase + i }, nats: { servers } };
      writeFileSync(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
      chmodSync(file, 0o600);
    });
    out(`chain id: ${genesis.chainId}`);
    dirs.forEach((d, i) => out(`${nodeIds[i]}: ${d} (mqtt ${host}:${mqttBase + i}, http ${host}:${httpBase + i}, ${meterIds[i]!.length} meters)`));
    out(`nats:     ${redactUrls(servers.join(', '))}`);
    if (billing) out(`billing:  EUR, a bill every ${cycleS} s per meter; accounts owner-0001.. and ${DEV_PAYEE}, their keys and the operator key in ${join(dirs[0]!, 'keys')}; node0 issues the bills`);
    out(`next:     meterledger start --data-dir ${dirs[0]} (and each of the others)`);
    return 0;
  },
};
