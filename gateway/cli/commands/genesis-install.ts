/**
 * `meterledger genesis install`: a party puts the consortium's genesis into its data dir,
 * after checking it is the one agreed (its hash), that this party's node key is in it, and
 * pins that hash in the data dir's config.json (`genesisHash`), so `meterledger start`
 * refuses any other genesis later put there.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { METER_ID_PATTERN, genesisHash, toHex } from '../../../protocols/index.js';
import { dataPaths, loadGenesisFile } from '../../../ledger-node/devchain.js';
import { KeyFileError, loadKeyFile } from '../../../ledger-node/keyfile.js';
import { ConfigError, GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, optionalString, out } from '../args.js';
import { GENESIS_HASH_PATTERN, loadFinishedGenesis, writeFileAtomic } from '../genesis-draft.js';

export const genesisInstallCommand: CommandSpec = {
  name: 'genesis install',
  summary: 'Put the consortium\'s genesis into this party\'s data dir: only if its hash is the one agreed and this data dir\'s node key is in it; pins the hash for meterledger start.',
  positionals: [{ name: 'FILE', help: 'the genesis file the coordinator sent' }],
  options: {
    'data-dir': { type: 'string', value: 'D', required: true, help: 'this party\'s data dir (its node key made by meterledger keygen)' },
    'expect-hash': { type: 'string', value: 'H', required: true, help: 'the genesis hash agreed with the other parties (64 hex digits)' },
    'node-id': { type: 'string', value: 'ID', help: 'a validator that a set change adds (docs/protocol.md §13), whose key is in no genesis list: its id, written to config.json as ledger.nodeId' },
  },
  details: 'Writes D/genesis.json and "genesisHash" into D/config.json (made if absent, other fields kept).\n' +
    'meterledger start then refuses a genesis of another hash (E_GENESIS_MISMATCH). With --config F or\n' +
    'METERLEDGER_CONFIG, D/config.json is not read: set genesisHash there, or METERLEDGER_GENESIS_HASH.',
  async run(args) {
    const file = resolve(args.positionals[0]!);
    const dataDir = resolve(optionalString(args, 'data-dir')!);
    const expect = optionalString(args, 'expect-hash')!;
    if (!GENESIS_HASH_PATTERN.test(expect)) throw new UsageError('--expect-hash must be the 64 hex digits of the genesis hash (meterledger genesis hash FILE)');
    const want = expect.toLowerCase();

    const genesis = loadFinishedGenesis(file);
    const hash = toHex(genesisHash(genesis));
    if (hash !== want) {
      throw new GatewayError('E_GENESIS_MISMATCH', `${file} has hash ${hash}, not the agreed ${want}: it is not the genesis the parties agreed on; nothing was installed`);
    }

    const p = dataPaths(dataDir);
    let pk: string;
    try {
      pk = toHex(loadKeyFile(p.validatorKey).publicKey);
    } catch (e) {
      if (e instanceof KeyFileError && e.code === 'E_KEY_MISSING') throw new KeyFileError('E_KEY_MISSING', `${dataDir} has no node key: make it first with meterledger keygen --data-dir ${dataDir}`, { cause: e });
      throw e;
    }
    const validator = genesis.validators.find((v) => v.publicKey === pk);
    const observer = genesis.observers?.find((o) => o.publicKey === pk);
    const joining = optionalString(args, 'node-id');
    if (joining !== undefined && !METER_ID_PATTERN.test(joining)) throw new UsageError('--node-id must be an id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
    if (joining !== undefined && (validator || observer)) throw new UsageError(`--node-id: this node key is ${validator ? `validator "${validator.id}"` : `observer "${observer!.id}"`} of this genesis already`);
    if (!validator && !observer && joining === undefined) {
      throw new GatewayError('E_NOT_IN_GENESIS', `the node key of ${dataDir} (${pk}) is neither a validator nor an observer of this genesis; nothing was installed`);
    }

    // Read what is there before writing anything, so a refusal leaves the data dir as it was.
    let already = false;
    if (existsSync(p.genesis)) {
      const there = toHex(genesisHash(loadGenesisFile(p.genesis)));
      if (there !== hash) throw new GatewayError('E_DATADIR_EXISTS', `${p.genesis} already holds another genesis (hash ${there}); a data dir keeps the chain it was made for`);
      already = true;
    }
    const configPath = join(dataDir, 'config.json');
    let config: Record<string, unknown> = {};
    let configMode = 0o600;
    if (existsSync(configPath)) {
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(configPath, 'utf8'));
      } catch (cause) {
        throw new ConfigError('config', `${configPath} is not JSON: ${(cause as Error).message}; nothing was installed`, { cause });
      }
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError('config', `${configPath} must hold a JSON object; nothing was installed`);
      config = doc as Record<string, unknown>;
      const pinned = config.genesisHash;
      if (typeof pinned === 'string' && pinned.toLowerCase() !== hash) {
        throw new GatewayError('E_GENESIS_MISMATCH', `${configPath} pins genesisHash ${pinned}, not ${hash}; nothing was installed`);
      }
      configMode = statSync(configPath).mode & 0o777;
    }

    if (!already) writeFileAtomic(p.genesis, JSON.stringify(genesis, null, 2) + '\n', 0o644);
    const ledger = joining !== undefined ? { ledger: { ...(config.ledger as object | undefined), nodeId: joining } } : {};
    if (config.genesisHash !== hash || joining !== undefined) writeFileAtomic(configPath, JSON.stringify({ ...config, genesisHash: hash, ...ledger }, null, 2) + '\n', configMode);

    const total = genesis.validators.reduce((s, v) => s + v.power, 0);
    out(`${already ? 'already in' : 'installed'}  ${p.genesis} (chain ${genesis.chainId})`);
    out(`hash       ${hash} (as agreed)`);
    out(`this node  ${validator ? `validator "${validator.id}", power ${validator.power} of ${total}` : observer ? `observer "${observer.id}"` : `"${joining!}", a validator once a set change adds it (ledger.nodeId)`}`);
    if (existsSync(p.operatorKey)) {
      const opPk = toHex(loadKeyFile(p.operatorKey).publicKey);
      const op = genesis.operators.find((o) => o.publicKey === opPk);
      out(`operator   ${op ? `"${op.id}" (${p.operatorKey})` : `${p.operatorKey} is not an operator of this genesis`}`);
    }
    out(`pinned     genesisHash in ${configPath}: meterledger start refuses any other genesis`);
    out(`next       set nats.servers (and the other settings), then meterledger start --data-dir ${dataDir}`);
    return 0;
  },
};
