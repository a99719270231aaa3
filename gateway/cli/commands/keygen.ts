/**
 * `meterledger keygen`: a party makes its own key on its own box and prints only the public
 * half (a key card), for the coordinator of a consortium's genesis (docs/consensus.md,
 * "Forming a consortium"). The secret key goes to a 0600 file and nowhere else.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Alg, METER_ID_PATTERN, algFromName, toHex } from '../../../protocols/index.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { KeyFileError, type KeyPair, generateKeyPair, loadKeyFile, saveKeyFile } from '../../../ledger-node/keyfile.js';
import { UsageError } from '../../errors.js';
import { type CommandSpec, type ParsedArgs, optionalString, out } from '../args.js';
import { type CardRole, type KeyCard, cardOf } from '../key-card.js';

const CMD = 'keygen';

/** Default ids come from the key, so `--show` prints the same card again. */
const defaultId = (role: CardRole, key: KeyPair): string => `${role === 'node' ? 'gw' : role}-${toHex(key.publicKey).slice(-8)}`;

function idFlag(args: ParsedArgs, flag: string): string | undefined {
  const v = optionalString(args, flag);
  if (v !== undefined && !METER_ID_PATTERN.test(v)) throw new UsageError(`--${flag} must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}`);
  return v;
}

function roleOf(args: ParsedArgs): CardRole {
  if (args.values.operator === true && args.values.meter === true) throw new UsageError('--operator and --meter exclude each other');
  return args.values.operator === true ? 'operator' : args.values.meter === true ? 'meter' : 'node';
}

function algOf(args: ParsedArgs, role: CardRole): Alg {
  const name = optionalString(args, 'alg') ?? 'Ed25519';
  let alg: Alg;
  try {
    alg = algFromName(name);
  } catch {
    throw new UsageError('--alg must be Ed25519 or ES256');
  }
  // Node keys sign votes and envelopes: Ed25519 only (docs/protocol.md §6, §12).
  if (role === 'node' && alg !== Alg.EdDSA) throw new UsageError('a node key is Ed25519; --alg is for --operator and --meter keys');
  return alg;
}

/** Where the key file goes: the data dir's place for the role, or --out FILE (operator, meter). */
function keyPath(args: ParsedArgs, role: CardRole, meterId: string | undefined): string | undefined {
  const dataDir = optionalString(args, 'data-dir');
  const file = optionalString(args, 'out');
  if ((dataDir === undefined) === (file === undefined)) {
    throw new UsageError(role === 'node' ? 'give --data-dir D' : 'give one of --data-dir D or --out FILE');
  }
  if (file !== undefined) {
    if (role === 'node') throw new UsageError('a node key lives in its data dir: give --data-dir D, not --out');
    return resolve(file);
  }
  const p = dataPaths(resolve(dataDir!));
  if (role === 'node') return p.validatorKey;
  if (role === 'operator') return p.operatorKey;
  return meterId === undefined ? undefined : p.meterKey(meterId);
}

function print(card: KeyCard, path: string, made: boolean, json: boolean): void {
  if (json) {
    out(JSON.stringify(card));
    return;
  }
  const add = card.role === 'node' ? 'add-validator' : `add-${card.role}`;
  const row = (label: string, value: string): void => out(`${label.padEnd(14)}${value}`);
  row(`${card.role} key`, `${path} (${made ? 'made now, ' : ''}mode 0600: the secret stays on this machine)`);
  row('id', card.id);
  row('alg', card.alg);
  row('public key', card.publicKey);
  if (card.owner !== undefined) row('owner', card.owner);
  out('send the coordinator the public card (the same with --show --json), who adds it with:');
  const extra = card.role === 'node' ? '' : ` --alg ${card.alg}${card.owner !== undefined ? ` --owner ${card.owner}` : ''}`;
  out(`  meterledger genesis ${add} DRAFT --id ${card.id} --public-key ${card.publicKey}${extra}` +
    (card.role === 'node' ? '   (or add-observer)' : ''));
}

export const keygenCommand: CommandSpec = {
  name: 'keygen',
  summary: 'Make this party\'s own key (a gateway\'s node key by default, or an operator\'s or a meter\'s) in a 0600 file and print only its public key, for the coordinator of a consortium\'s genesis.',
  options: {
    'data-dir': { type: 'string', value: 'D', help: 'data dir: the node key goes to D/keys/validator.key, an operator key to D/keys/operator.key, a meter key to D/keys/meters/ID.key' },
    out: { type: 'string', value: 'FILE', help: 'with --operator or --meter: write the key to FILE instead of a data dir' },
    operator: { type: 'boolean', help: 'an operator key (signs meter registrations) instead of a node key' },
    meter: { type: 'boolean', help: 'a meter key (a simulated meter; real meters make theirs in a secure element)' },
    id: { type: 'string', value: 'ID', help: 'the id proposed for genesis (default gw-, operator- or meter- and the last 8 hex digits of the public key)' },
    alg: { type: 'string', value: 'ALG', help: 'with --operator or --meter: Ed25519 (default) or ES256; a node key is always Ed25519' },
    owner: { type: 'string', value: 'ACCOUNT', help: 'with --meter: the owner account put on its card' },
    show: { type: 'boolean', help: 'print the card of the existing key instead of making one' },
    json: { type: 'boolean', help: 'print the card as one JSON line: {"role","id","alg","publicKey"} (what genesis add-* --card reads)' },
  },
  details: 'An existing key file is never overwritten (E_KEY_EXISTS). Nothing secret is printed or\n' +
    'leaves the file: only the public key goes to the coordinator, who lists it in genesis.',
  async run(args) {
    const role = roleOf(args);
    const json = args.values.json === true;
    const owner = optionalString(args, 'owner');
    if (owner !== undefined && role !== 'meter') throw new UsageError('--owner is for --meter keys');
    if (owner === '') throw new UsageError('--owner must not be empty');
    const extra = owner !== undefined ? { owner } : {};
    const id = idFlag(args, 'id');
    const path = keyPath(args, role, id);
    if (args.values.show === true) {
      if (path === undefined) throw new UsageError('--show --meter --data-dir D needs the meter\'s --id');
      const key = loadKeyFile(path);
      print(cardOf(role, id ?? defaultId(role, key), key, extra), path, false, json);
      return 0;
    }
    const key = generateKeyPair(algOf(args, role));
    const cardId = id ?? defaultId(role, key);
    const file = path ?? dataPaths(resolve(optionalString(args, 'data-dir')!)).meterKey(cardId);
    const dataDir = optionalString(args, 'data-dir');
    if (dataDir !== undefined) mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 });
    try {
      saveKeyFile(file, key);
    } catch (e) {
      if (!(e instanceof KeyFileError && e.code === 'E_KEY_EXISTS')) throw e;
      throw new KeyFileError('E_KEY_EXISTS', `${file} already exists and is never overwritten; --show prints its public key`, { cause: e });
    }
    print(cardOf(role, cardId, key, extra), file, true, json);
    return 0;
  },
};
