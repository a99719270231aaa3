/**
 * Gateway configuration: defaults < JSON file < METERLEDGER_* environment < command-line
 * flags. One table (CONFIG_REFERENCE) drives the environment and flag names, the
 * validation of each value and the generated docs. A bad value stops start-up with
 * E_CONFIG_INVALID naming the field; so does an unknown field in the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import type { NatsOptions } from '../ledger-node/api.js';
import { redactUrls } from '../ledger-node/p2p/redact.js';

export interface MqttAccountConfig {
  readonly username: string;
  /** From `hashPassword` of bridge/mqtt. */
  readonly passwordHash: string;
  readonly publish?: string[];
  readonly subscribe?: string[];
}

export interface GatewayConfig {
  readonly dataDir: string;
  /** The genesis hash this party agreed to (hex, lowercase); start refuses another genesis. */
  readonly genesisHash?: string;
  readonly mqtt: {
    readonly host: string;
    readonly port: number;
    readonly tls?: { readonly port: number; readonly keyFile: string; readonly certFile: string; readonly caFile?: string };
    readonly ws?: { readonly port: number };
    readonly allowAnonymous: boolean;
    readonly tokenMaxAgeMs: number;
    readonly maxPayloadBytes: number;
    readonly accounts: readonly MqttAccountConfig[];
    readonly maxConnectionsPerListener: number;
    readonly maxSessionsPerMeter: number;
    readonly maxQueuedMessages: number;
    readonly sessionExpiryMs: number;
  };
  readonly http: { readonly host: string; readonly port: number; readonly adminToken?: string };
  readonly ledger: {
    readonly blockIntervalMs: number;
    readonly blockMaxTxs: number;
    readonly maxPastMs: number;
    readonly maxFutureMs: number;
    readonly maxBacklog: number;
    readonly meterRatePerSecond: number;
    readonly meterBurst: number;
    readonly verifyWorkers: number;
  };
  readonly log: { readonly level: LogLevel };
  /** The XMPP bridge (docs/xmpp.md); absent unless configured. */
  readonly xmpp?: XmppConfig;
  /** How to reach the other gateways (docs/consensus.md); absent for a lone validator. */
  readonly nats?: NatsOptions;
  /** Consensus round timeouts: each grows by half its base per round. */
  readonly consensus: { readonly proposeTimeoutMs: number; readonly prevoteTimeoutMs: number; readonly precommitTimeoutMs: number };
}

/** How the gateway logs in to the site's XMPP server as a client (bridge/xmpp). */
export interface XmppConfig {
  /** `xmpp://host[:port]` (STARTTLS when offered) or `xmpps://host[:port]` (direct TLS). */
  readonly service: string;
  readonly domain: string;
  readonly username: string;
  readonly password: string;
  readonly resource?: string;
  readonly tls: { readonly caFile?: string; readonly rejectUnauthorized: boolean };
  readonly maxPayloadBytes: number;
  readonly reconnect: { readonly minMs: number; readonly maxMs: number };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type Kind =
  | { readonly t: 'path' }
  | { readonly t: 'host' }
  | { readonly t: 'int'; readonly min: number; readonly max: number }
  | { readonly t: 'bool' }
  | { readonly t: 'enum'; readonly values: readonly string[] }
  | { readonly t: 'secret'; readonly minLength: number }
  | { readonly t: 'url'; readonly schemes: readonly string[] }
  | { readonly t: 'text'; readonly pattern: RegExp; readonly what: string }
  | { readonly t: 'accounts' }
  | { readonly t: 'urls'; readonly schemes: readonly string[] };

export interface ConfigField {
  /** Dotted path in the JSON file and in GatewayConfig. */
  readonly field: string;
  readonly env?: string;
  /** Long flag of `meterledger start`, without the dashes. */
  readonly flag?: string;
  /** The default, as docs show it. */
  readonly default: string;
  readonly meaning: string;
  readonly kind: Kind;
}

const port: Kind = { t: 'int', min: 0, max: 65535 };
const ms = (min: number, max = Number.MAX_SAFE_INTEGER): Kind => ({ t: 'int', min, max });
const DAY_MS = 86_400_000;
/** RFC 1035 §2.3.1 labels, or an IP address (tests log in to 127.0.0.1). */
const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** RFC 7622 §3.3.1 (PRECIS IdentifierClass, XEP-0106 escapes): no @ / " & ' : < >, spaces or controls. */
const LOCALPART = /^[^\s\x00-\x1f\x7f@/"&':<>]{1,256}$/;
/** RFC 7622 §3.4: any printable text; we refuse control characters and keep it short. */
const RESOURCE = /^[\x21-\x7e][\x20-\x7e]{0,255}$/;
/** The login fields of the xmpp group: once any xmpp.* field is set, all four are required. */
const XMPP_REQUIRED = ['service', 'domain', 'username', 'password'] as const;

/** Every setting: where it comes from, its default and what it means. */
export const CONFIG_REFERENCE: readonly ConfigField[] = [
  { field: 'dataDir', env: 'METERLEDGER_DATA_DIR', flag: 'data-dir', default: '(required)', kind: { t: 'path' },
    meaning: 'Folder of the node: genesis.json, store/, wal/, keys/ and an optional config.json. A missing chain is created as a dev chain, unless the folder holds keys (meterledger keygen) or genesisHash is set: then start refuses (E_NO_GENESIS) until meterledger genesis install.' },
  { field: 'genesisHash', env: 'METERLEDGER_GENESIS_HASH', flag: 'genesis-hash', default: '(not pinned)', kind: { t: 'text', pattern: /^[0-9a-fA-F]{64}$/, what: '64 hex digits (meterledger genesis hash FILE)' },
    meaning: 'The genesis hash agreed with the other parties: start refuses a data dir whose genesis.json has another hash, or none. meterledger genesis install sets it in the data dir\'s config.json.' },
  { field: 'mqtt.host', env: 'METERLEDGER_MQTT_HOST', flag: 'mqtt-host', default: '127.0.0.1', kind: { t: 'host' },
    meaning: 'Address the MQTT listeners (TCP, TLS, WebSocket) bind to.' },
  { field: 'mqtt.port', env: 'METERLEDGER_MQTT_PORT', flag: 'mqtt-port', default: '1883', kind: port,
    meaning: 'MQTT over TCP port (0 picks a free port).' },
  { field: 'mqtt.tls.port', env: 'METERLEDGER_MQTT_TLS_PORT', default: '(off)', kind: port,
    meaning: 'MQTT over TLS port; set with keyFile and certFile to enable TLS.' },
  { field: 'mqtt.tls.keyFile', env: 'METERLEDGER_MQTT_TLS_KEY_FILE', default: '(off)', kind: { t: 'path' },
    meaning: 'PEM private key of the TLS listener.' },
  { field: 'mqtt.tls.certFile', env: 'METERLEDGER_MQTT_TLS_CERT_FILE', default: '(off)', kind: { t: 'path' },
    meaning: 'PEM certificate chain of the TLS listener.' },
  { field: 'mqtt.tls.caFile', env: 'METERLEDGER_MQTT_TLS_CA_FILE', default: '(none)', kind: { t: 'path' },
    meaning: 'PEM CA bundle for client certificates (optional).' },
  { field: 'mqtt.ws.port', env: 'METERLEDGER_MQTT_WS_PORT', default: '(off)', kind: port,
    meaning: 'MQTT over WebSocket port; unset disables it.' },
  { field: 'mqtt.allowAnonymous', env: 'METERLEDGER_MQTT_ALLOW_ANONYMOUS', default: 'false', kind: { t: 'bool' },
    meaning: 'Accept CONNECT without credentials (tests only).' },
  { field: 'mqtt.tokenMaxAgeMs', env: 'METERLEDGER_MQTT_TOKEN_MAX_AGE_MS', default: '300000', kind: ms(1000, DAY_MS),
    meaning: 'How far a meter CONNECT token time may be from the gateway clock, ms.' },
  { field: 'mqtt.maxPayloadBytes', env: 'METERLEDGER_MQTT_MAX_PAYLOAD_BYTES', default: '4096', kind: ms(64, 1_048_576),
    meaning: 'Largest PUBLISH payload accepted, bytes.' },
  { field: 'mqtt.accounts', default: '[]', kind: { t: 'accounts' },
    meaning: 'Non-meter MQTT users (file only): [{username, passwordHash, publish?, subscribe?}].' },
  { field: 'mqtt.maxConnectionsPerListener', env: 'METERLEDGER_MQTT_MAX_CONNECTIONS_PER_LISTENER', default: '20000', kind: ms(1, 1_000_000),
    meaning: 'Sockets each MQTT listener (TCP, TLS, WebSocket) holds at most; more are closed on arrival. Keep the sum under the open-file limit.' },
  { field: 'mqtt.maxSessionsPerMeter', env: 'METERLEDGER_MQTT_MAX_SESSIONS_PER_METER', default: '4', kind: ms(1, 1000),
    meaning: 'MQTT sessions (connected or stored) one meter may hold; a new one ends its least recently used.' },
  { field: 'mqtt.maxQueuedMessages', env: 'METERLEDGER_MQTT_MAX_QUEUED_MESSAGES', default: '1000', kind: ms(1, 1_000_000),
    meaning: 'Messages queued per MQTT session at most; beyond it, new ones are dropped for that session.' },
  { field: 'mqtt.sessionExpiryMs', env: 'METERLEDGER_MQTT_SESSION_EXPIRY_MS', default: '604800000', kind: ms(60_000, 365 * DAY_MS),
    meaning: 'A stored (CleanSession 0) MQTT session ends this long after its last connection closed, ms.' },
  { field: 'http.host', env: 'METERLEDGER_HTTP_HOST', flag: 'http-host', default: '127.0.0.1', kind: { t: 'host' },
    meaning: 'Address the HTTP API binds to.' },
  { field: 'http.port', env: 'METERLEDGER_HTTP_PORT', flag: 'http-port', default: '8080', kind: port,
    meaning: 'HTTP API port (0 picks a free port).' },
  { field: 'http.adminToken', env: 'METERLEDGER_HTTP_ADMIN_TOKEN', default: '(unset: POST endpoints disabled)', kind: { t: 'secret', minLength: 16 },
    meaning: 'Bearer token required by POST endpoints, at least 16 characters.' },
  { field: 'ledger.blockIntervalMs', env: 'METERLEDGER_BLOCK_INTERVAL_MS', default: '1000', kind: ms(10, 3_600_000),
    meaning: 'Cut a block at least this often while readings wait, ms.' },
  { field: 'ledger.blockMaxTxs', env: 'METERLEDGER_BLOCK_MAX_TXS', default: '2000', kind: ms(1, 1_000_000),
    meaning: 'Cut a block as soon as this many transactions wait (capped by genesis maxBlockTxs).' },
  { field: 'ledger.maxPastMs', env: 'METERLEDGER_MAX_PAST_MS', default: '604800000 (7 days)', kind: ms(0),
    meaning: 'A reading may be this far behind the gateway clock, ms (at most genesis params.maxReadingPastMs).' },
  { field: 'ledger.maxFutureMs', env: 'METERLEDGER_MAX_FUTURE_MS', default: '300000', kind: ms(0),
    meaning: 'A reading may be this far ahead of the gateway clock, ms (at most genesis params.maxReadingFutureMs).' },
  { field: 'ledger.maxBacklog', env: 'METERLEDGER_MAX_BACKLOG', default: '100000', kind: ms(1, 100_000_000),
    meaning: 'Accepted, uncommitted transactions allowed before E_GATEWAY_BUSY.' },
  { field: 'ledger.meterRatePerSecond', env: 'METERLEDGER_METER_RATE_PER_SECOND', default: '50', kind: ms(0, 1_000_000),
    meaning: 'Readings per second one meter may send on average; beyond it E_READING_RATE_LIMITED (0: no limit).' },
  { field: 'ledger.meterBurst', env: 'METERLEDGER_METER_BURST', default: '500', kind: ms(1, 10_000_000),
    meaning: 'Readings one meter may send at once before its rate applies.' },
  { field: 'ledger.verifyWorkers', env: 'METERLEDGER_VERIFY_WORKERS', default: '(number of CPUs)', kind: ms(0, 256),
    meaning: 'Signature-verification worker threads; 0 verifies on the main thread.' },
  { field: 'xmpp.service', env: 'METERLEDGER_XMPP_SERVICE', default: '(off)', kind: { t: 'url', schemes: ['xmpp', 'xmpps'] },
    meaning: 'XMPP server the bridge logs in to: xmpp://host:5222 (STARTTLS when offered) or xmpps://host:5223 (direct TLS). Any xmpp.* setting enables the bridge; then service, domain, username and password are all required.' },
  { field: 'xmpp.domain', env: 'METERLEDGER_XMPP_DOMAIN', default: '(off)', kind: { t: 'text', pattern: DOMAIN, what: 'a domain name' },
    meaning: 'XMPP domain of the gateway and meter accounts (the TLS server name), e.g. site.example.' },
  { field: 'xmpp.username', env: 'METERLEDGER_XMPP_USERNAME', default: '(off)', kind: { t: 'text', pattern: LOCALPART, what: 'an XMPP local part (no @, /, quotes or spaces)' },
    meaning: 'Local part of the gateway\'s XMPP account: meters send their readings to username@domain.' },
  { field: 'xmpp.password', env: 'METERLEDGER_XMPP_PASSWORD', default: '(off)', kind: { t: 'secret', minLength: 1 },
    meaning: 'Password of the gateway\'s XMPP account (SCRAM-SHA-1; PLAIN only over TLS).' },
  { field: 'xmpp.resource', env: 'METERLEDGER_XMPP_RESOURCE', default: '(chosen by the server)', kind: { t: 'text', pattern: RESOURCE, what: 'a resource of 1..256 printable characters' },
    meaning: 'Resource of the gateway\'s session (the part after / of its full JID).' },
  { field: 'xmpp.tls.caFile', env: 'METERLEDGER_XMPP_TLS_CA_FILE', default: '(system CAs)', kind: { t: 'path' },
    meaning: 'PEM CA (or self-signed certificate) to trust for the XMPP server, instead of the system store.' },
  { field: 'xmpp.tls.rejectUnauthorized', env: 'METERLEDGER_XMPP_TLS_REJECT_UNAUTHORIZED', default: 'true', kind: { t: 'bool' },
    meaning: 'Verify the XMPP server certificate; false only for tests.' },
  { field: 'xmpp.maxPayloadBytes', env: 'METERLEDGER_XMPP_MAX_PAYLOAD_BYTES', default: '4096', kind: ms(64, 1_048_576),
    meaning: 'Largest reading accepted over XMPP, in base64-decoded bytes.' },
  { field: 'xmpp.reconnect.minMs', env: 'METERLEDGER_XMPP_RECONNECT_MIN_MS', default: '1000', kind: ms(1, 3_600_000),
    meaning: 'First delay before logging in again after the XMPP connection is lost, ms (doubling, jittered).' },
  { field: 'xmpp.reconnect.maxMs', env: 'METERLEDGER_XMPP_RECONNECT_MAX_MS', default: '30000', kind: ms(1, 3_600_000),
    meaning: 'Longest delay between XMPP login attempts, ms; at least xmpp.reconnect.minMs.' },
  { field: 'nats.servers', env: 'METERLEDGER_NATS_SERVERS', default: '(none: a lone validator)', kind: { t: 'urls', schemes: ['nats', 'tls'] },
    meaning: 'NATS servers where the gateways of the chain meet (nats://host:4222, comma-separated in the environment). Required when genesis has more than one validator or this gateway is an observer. Credentials in a URL (nats://user:pass@host, nats://token@host) are used when no other nats auth is set, and never logged.' },
  { field: 'nats.user', env: 'METERLEDGER_NATS_USER', default: '(none)', kind: { t: 'text', pattern: /^[^\s]{1,256}$/, what: 'a user name without spaces' },
    meaning: 'NATS user; set with nats.pass.' },
  { field: 'nats.pass', env: 'METERLEDGER_NATS_PASS', default: '(none)', kind: { t: 'secret', minLength: 1 },
    meaning: 'NATS password.' },
  { field: 'nats.token', env: 'METERLEDGER_NATS_TOKEN', default: '(none)', kind: { t: 'secret', minLength: 1 },
    meaning: 'NATS token (instead of user and password).' },
  { field: 'nats.nkeySeedFile', env: 'METERLEDGER_NATS_NKEY_SEED_FILE', default: '(none)', kind: { t: 'path' },
    meaning: 'File holding the NATS nkey seed (SU...), for nkey authentication.' },
  { field: 'nats.tls.caFile', env: 'METERLEDGER_NATS_TLS_CA_FILE', default: '(system CAs)', kind: { t: 'path' },
    meaning: 'PEM CA bundle to check the NATS servers with.' },
  { field: 'nats.tls.certFile', env: 'METERLEDGER_NATS_TLS_CERT_FILE', default: '(none)', kind: { t: 'path' },
    meaning: 'PEM client certificate for NATS (mutual TLS).' },
  { field: 'nats.tls.keyFile', env: 'METERLEDGER_NATS_TLS_KEY_FILE', default: '(none)', kind: { t: 'path' },
    meaning: 'PEM client key for NATS (mutual TLS).' },
  { field: 'nats.ignoreClusterUpdates', env: 'METERLEDGER_NATS_IGNORE_CLUSTER_UPDATES', default: 'false', kind: { t: 'bool' },
    meaning: 'Use only nats.servers, not the addresses the NATS cluster advertises (NATS behind a proxy or NAT).' },
  { field: 'nats.reconnect.minMs', env: 'METERLEDGER_NATS_RECONNECT_MIN_MS', default: '500', kind: ms(10, 3_600_000),
    meaning: 'Wait between attempts on one NATS server while reconnecting, and the first wait when no server is reachable (a gateway starts without NATS and joins when it answers), ms; doubling (jittered) up to nats.reconnect.maxMs.' },
  { field: 'nats.reconnect.maxMs', env: 'METERLEDGER_NATS_RECONNECT_MAX_MS', default: '30000', kind: ms(10, 3_600_000),
    meaning: 'Longest wait between attempts to reach NATS, ms; at least nats.reconnect.minMs. Dialling never gives up.' },
  { field: 'nats.messageWindowMs', env: 'METERLEDGER_NATS_MESSAGE_WINDOW_MS', default: '30000', kind: ms(1000, 600_000),
    meaning: 'Peer messages dated further than this before or after this gateway\'s clock are refused, and replays within it are refused (docs/protocol.md §12.3), ms. Keep the gateways\' clocks well within it (NTP).' },
  { field: 'consensus.proposeTimeoutMs', env: 'METERLEDGER_CONSENSUS_PROPOSE_TIMEOUT_MS', default: '1000', kind: ms(10, 600_000),
    meaning: 'How long validators wait for a proposal in round 0, ms; +50% per round.' },
  { field: 'consensus.prevoteTimeoutMs', env: 'METERLEDGER_CONSENSUS_PREVOTE_TIMEOUT_MS', default: '500', kind: ms(10, 600_000),
    meaning: 'How long validators wait for more prevotes once two thirds voted, ms; +50% per round.' },
  { field: 'consensus.precommitTimeoutMs', env: 'METERLEDGER_CONSENSUS_PRECOMMIT_TIMEOUT_MS', default: '500', kind: ms(10, 600_000),
    meaning: 'How long validators wait for more precommits once two thirds voted, ms; +50% per round.' },
  { field: 'log.level', env: 'METERLEDGER_LOG_LEVEL', flag: 'log-level', default: 'info', kind: { t: 'enum', values: LOG_LEVELS },
    meaning: `JSON log level on stderr: ${LOG_LEVELS.join(', ')}.` },
];

/** The environment variable naming the config file, below --config. */
export const CONFIG_FILE_ENV = 'METERLEDGER_CONFIG';

const byField = new Map(CONFIG_REFERENCE.map((f) => [f.field, f]));
/** Groups that are objects in the file. */
const GROUPS = new Set(['mqtt', 'mqtt.tls', 'mqtt.ws', 'http', 'ledger', 'log', 'xmpp', 'xmpp.tls', 'xmpp.reconnect', 'nats', 'nats.tls', 'nats.reconnect', 'consensus']);

export type ConfigFlags = Readonly<Record<string, string | boolean | undefined>>;

export interface LoadConfigInput {
  /** Parsed flags by long name without dashes (`mqtt-port`); `config` names the file. */
  readonly flags?: ConfigFlags;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A config file to read; else `flags.config`, METERLEDGER_CONFIG or `<dataDir>/config.json` if present. */
  readonly file?: string;
  /** Base for relative paths from flags and env. Default process.cwd(). */
  readonly cwd?: string;
}

interface Setting {
  readonly value: unknown;
  /** Where it came from, for error messages: `--mqtt-port`, `METERLEDGER_MQTT_PORT`, a file. */
  readonly source: string;
  /** Strings from env and flags are parsed; values from the file must have their JSON type. */
  readonly text: boolean;
  /** Folder that relative paths resolve against. */
  readonly base: string;
}

export function loadConfig(input: LoadConfigInput = {}): GatewayConfig {
  const flags = input.flags ?? {};
  const env = input.env ?? {};
  const cwd = input.cwd ?? process.cwd();
  const settings = new Map<string, Setting>();

  const fromEnv = new Map<string, Setting>();
  for (const f of CONFIG_REFERENCE) {
    const v = f.env === undefined ? undefined : env[f.env];
    if (v !== undefined && v !== '') fromEnv.set(f.field, { value: v, source: f.env!, text: true, base: cwd });
  }
  const fromFlags = new Map<string, Setting>();
  for (const f of CONFIG_REFERENCE) {
    const v = f.flag === undefined ? undefined : flags[f.flag];
    if (v !== undefined) fromFlags.set(f.field, { value: v, source: `--${f.flag}`, text: true, base: cwd });
  }

  // Which file: explicit, else <dataDir>/config.json when the data dir is known and has one.
  const explicit = input.file ?? str(flags.config) ?? env[CONFIG_FILE_ENV];
  let file: string | undefined;
  if (explicit) file = resolve(cwd, explicit);
  else {
    const dd = fromFlags.get('dataDir') ?? fromEnv.get('dataDir');
    if (dd && typeof dd.value === 'string') {
      const candidate = join(resolve(cwd, dd.value), 'config.json');
      if (existsSync(candidate)) file = candidate;
    }
  }
  if (file) for (const [k, s] of readConfigFile(file)) settings.set(k, s);
  for (const [k, s] of fromEnv) settings.set(k, s);
  for (const [k, s] of fromFlags) settings.set(k, s);
  return build(settings);
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function readConfigFile(path: string): Map<string, Setting> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('config', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError('config', `${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  const out = new Map<string, Setting>();
  const base = dirname(path);
  const walk = (o: unknown, prefix: string): void => {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ConfigError(prefix || '(file)', `must be an object (in ${path})`);
    for (const [k, v] of Object.entries(o)) {
      const field = prefix ? `${prefix}.${k}` : k;
      if (GROUPS.has(field)) walk(v, field);
      else if (byField.has(field)) out.set(field, { value: v, source: path, text: false, base });
      else throw new ConfigError(field, `unknown field (in ${path}); see meterledger start --help for the fields`);
    }
  };
  walk(doc, '');
  return out;
}

function invalid(f: ConfigField, s: Setting, why: string): ConfigError {
  // A URL may carry a password (nats://user:pass@host): shown without it.
  const shown = f.kind.t === 'secret' ? '' : `got ${redactUrls(JSON.stringify(s.value))} `;
  return new ConfigError(f.field, `${why} (${shown}from ${s.source})`);
}

/** Check and convert one setting by its kind. */
function parseValue(f: ConfigField, s: Setting): unknown {
  const v = s.value;
  const k = f.kind;
  switch (k.t) {
    case 'int': {
      const n = s.text && typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < k.min || n > k.max) {
        throw invalid(f, s, `must be an integer ${k.min}..${k.max}`);
      }
      return n;
    }
    case 'bool': {
      if (typeof v === 'boolean') return v;
      if (s.text && typeof v === 'string') {
        const t = v.trim().toLowerCase();
        if (t === 'true' || t === '1' || t === 'yes') return true;
        if (t === 'false' || t === '0' || t === 'no') return false;
      }
      throw invalid(f, s, 'must be true or false');
    }
    case 'enum':
      if (typeof v !== 'string' || !k.values.includes(v)) throw invalid(f, s, `must be one of ${k.values.join(', ')}`);
      return v;
    case 'host':
      if (typeof v !== 'string' || !/^[A-Za-z0-9.:_-]{1,253}$/.test(v)) throw invalid(f, s, 'must be a host name or IP address');
      return v;
    case 'path':
      if (typeof v !== 'string' || v.length === 0) throw invalid(f, s, 'must be a non-empty path');
      return resolve(s.base, v);
    case 'secret':
      if (typeof v !== 'string' || v.length < k.minLength) throw invalid(f, s, `must be a string of at least ${k.minLength} characters`);
      return v;
    case 'url': {
      let u: URL | undefined;
      try {
        u = typeof v === 'string' ? new URL(v) : undefined;
      } catch {
        u = undefined;
      }
      const schemes = k.schemes.map((x) => `${x}://`).join(' or ');
      if (!u || !k.schemes.includes(u.protocol.slice(0, -1)) || !u.hostname || u.username || u.password || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) {
        throw invalid(f, s, `must be a URL ${schemes}host[:port]`);
      }
      return `${u.protocol}//${u.host}`;
    }
    case 'text':
      if (typeof v !== 'string' || !k.pattern.test(v)) throw invalid(f, s, `must be ${k.what}`);
      return v;
    case 'accounts':
      return parseAccounts(f, s);
    case 'urls': {
      const list = s.text && typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v;
      const schemes = k.schemes.map((x) => `${x}://`).join(' or ');
      if (!Array.isArray(list) || list.length === 0) throw invalid(f, s, `must be a list of ${schemes}host:port URLs`);
      return list.map((u) => {
        let url: URL | undefined;
        try {
          url = typeof u === 'string' ? new URL(u) : undefined;
        } catch {
          url = undefined;
        }
        if (!url || !k.schemes.includes(url.protocol.slice(0, -1)) || !url.hostname) throw invalid(f, s, `each must be a URL ${schemes}host:port`);
        return u as string;
      });
    }
  }
}

function parseAccounts(f: ConfigField, s: Setting): MqttAccountConfig[] {
  let v = s.value;
  if (s.text && typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw invalid(f, s, 'must be a JSON array');
    }
  }
  if (!Array.isArray(v)) throw new ConfigError(f.field, `must be an array (from ${s.source})`);
  return v.map((a: unknown, i): MqttAccountConfig => {
    const at = `${f.field}[${i}]`;
    if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new ConfigError(at, 'must be an object');
    const o = a as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!['username', 'passwordHash', 'publish', 'subscribe'].includes(key)) throw new ConfigError(`${at}.${key}`, 'unknown field');
    }
    for (const key of ['username', 'passwordHash']) {
      if (typeof o[key] !== 'string' || o[key] === '') throw new ConfigError(`${at}.${key}`, 'must be a non-empty string');
    }
    const topics = (key: string): string[] | undefined => {
      const t = o[key];
      if (t === undefined) return undefined;
      if (!Array.isArray(t) || !t.every((x) => typeof x === 'string' && x.length > 0)) {
        throw new ConfigError(`${at}.${key}`, 'must be an array of topic filters');
      }
      return t as string[];
    };
    const publish = topics('publish');
    const subscribe = topics('subscribe');
    return {
      username: o.username as string, passwordHash: o.passwordHash as string,
      ...(publish ? { publish } : {}), ...(subscribe ? { subscribe } : {}),
    };
  });
}

function build(settings: Map<string, Setting>): GatewayConfig {
  const v = new Map<string, unknown>();
  for (const [field, s] of settings) v.set(field, parseValue(byField.get(field)!, s));
  const get = <T>(field: string, dflt: T): T => (v.has(field) ? (v.get(field) as T) : dflt);

  const dataDir = v.get('dataDir') as string | undefined;
  if (dataDir === undefined) throw new ConfigError('dataDir', 'required: pass --data-dir, set METERLEDGER_DATA_DIR or "dataDir" in the config file');

  let tls: GatewayConfig['mqtt']['tls'];
  const tlsSet = ['port', 'keyFile', 'certFile', 'caFile'].filter((k) => v.has(`mqtt.tls.${k}`));
  if (tlsSet.length > 0) {
    for (const k of ['port', 'keyFile', 'certFile']) {
      if (!v.has(`mqtt.tls.${k}`)) throw new ConfigError(`mqtt.tls.${k}`, `required when mqtt.tls is used (${tlsSet.map((x) => `mqtt.tls.${x}`).join(', ')} set)`);
    }
    const caFile = v.get('mqtt.tls.caFile') as string | undefined;
    tls = {
      port: v.get('mqtt.tls.port') as number, keyFile: v.get('mqtt.tls.keyFile') as string,
      certFile: v.get('mqtt.tls.certFile') as string, ...(caFile !== undefined ? { caFile } : {}),
    };
  }
  const ws = v.has('mqtt.ws.port') ? { port: v.get('mqtt.ws.port') as number } : undefined;
  const adminToken = v.get('http.adminToken') as string | undefined;
  const xmpp = buildXmpp(v);
  const nats = buildNats(v);

  const pin = v.get('genesisHash') as string | undefined;
  const cfg: GatewayConfig = {
    dataDir,
    ...(pin !== undefined ? { genesisHash: pin.toLowerCase() } : {}),
    mqtt: {
      host: get('mqtt.host', '127.0.0.1'),
      port: get('mqtt.port', 1883),
      ...(tls ? { tls } : {}),
      ...(ws ? { ws } : {}),
      allowAnonymous: get('mqtt.allowAnonymous', false),
      tokenMaxAgeMs: get('mqtt.tokenMaxAgeMs', 300_000),
      maxPayloadBytes: get('mqtt.maxPayloadBytes', 4096),
      accounts: get<MqttAccountConfig[]>('mqtt.accounts', []),
      maxConnectionsPerListener: get('mqtt.maxConnectionsPerListener', 20_000),
      maxSessionsPerMeter: get('mqtt.maxSessionsPerMeter', 4),
      maxQueuedMessages: get('mqtt.maxQueuedMessages', 1000),
      sessionExpiryMs: get('mqtt.sessionExpiryMs', 7 * DAY_MS),
    },
    http: {
      host: get('http.host', '127.0.0.1'),
      port: get('http.port', 8080),
      ...(adminToken !== undefined ? { adminToken } : {}),
    },
    ledger: {
      blockIntervalMs: get('ledger.blockIntervalMs', 1000),
      blockMaxTxs: get('ledger.blockMaxTxs', 2000),
      maxPastMs: get('ledger.maxPastMs', 7 * DAY_MS),
      maxFutureMs: get('ledger.maxFutureMs', 300_000),
      maxBacklog: get('ledger.maxBacklog', 100_000),
      meterRatePerSecond: get('ledger.meterRatePerSecond', 50),
      meterBurst: get('ledger.meterBurst', 500),
      verifyWorkers: get('ledger.verifyWorkers', availableParallelism()),
    },
    log: { level: get<LogLevel>('log.level', 'info') },
    ...(xmpp ? { xmpp } : {}),
    ...(nats ? { nats } : {}),
    consensus: {
      proposeTimeoutMs: get('consensus.proposeTimeoutMs', 1000),
      prevoteTimeoutMs: get('consensus.prevoteTimeoutMs', 500),
      precommitTimeoutMs: get('consensus.precommitTimeoutMs', 500),
    },
  };
  checkPortClashes(cfg);
  return cfg;
}

/** The nats group: off without nats.servers; one way of authenticating at most. */
function buildNats(v: ReadonlyMap<string, unknown>): NatsOptions | undefined {
  const set = CONFIG_REFERENCE.filter((f) => f.field.startsWith('nats.') && v.has(f.field)).map((f) => f.field);
  if (set.length === 0) return undefined;
  if (!v.has('nats.servers')) throw new ConfigError('nats.servers', `required when nats is used (${set.join(', ')} set)`);
  const user = v.get('nats.user') as string | undefined;
  const pass = v.get('nats.pass') as string | undefined;
  const token = v.get('nats.token') as string | undefined;
  const seedFile = v.get('nats.nkeySeedFile') as string | undefined;
  if ((user === undefined) !== (pass === undefined)) throw new ConfigError(user === undefined ? 'nats.user' : 'nats.pass', 'nats.user and nats.pass go together');
  const ways = [user !== undefined, token !== undefined, seedFile !== undefined].filter(Boolean).length;
  if (ways > 1) throw new ConfigError('nats.token', 'choose one of nats.user/pass, nats.token or nats.nkeySeedFile');
  let auth: NatsOptions['auth'];
  if (user !== undefined) auth = { user, pass: pass! };
  else if (token !== undefined) auth = { token };
  else if (seedFile !== undefined) {
    let seed: string;
    try {
      seed = readFileSync(seedFile, 'utf8').trim();
    } catch (cause) {
      throw new ConfigError('nats.nkeySeedFile', `cannot read ${seedFile}`, { cause });
    }
    if (!/^SU[A-Z2-7]{50,}$/.test(seed)) throw new ConfigError('nats.nkeySeedFile', `${seedFile} does not hold a user nkey seed (SU...)`);
    auth = { nkeySeed: seed };
  }
  const tls = { caFile: v.get('nats.tls.caFile'), certFile: v.get('nats.tls.certFile'), keyFile: v.get('nats.tls.keyFile') } as Record<string, string | undefined>;
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) throw new ConfigError(tls.certFile === undefined ? 'nats.tls.certFile' : 'nats.tls.keyFile', 'nats.tls.certFile and nats.tls.keyFile go together');
  const tlsSet = Object.fromEntries(Object.entries(tls).filter(([, x]) => x !== undefined)) as NonNullable<NatsOptions['tls']>;
  if (auth && (v.get('nats.servers') as string[]).some((u) => /^[a-z][a-z0-9+.-]*:\/\/[^/@]*@/i.test(u))) {
    throw new ConfigError('nats.servers', 'a URL carries credentials and nats.user, nats.token or nats.nkeySeedFile is set too: give them once');
  }
  const minMs = (v.get('nats.reconnect.minMs') as number | undefined) ?? 500;
  const maxMs = (v.get('nats.reconnect.maxMs') as number | undefined) ?? Math.max(minMs, 30_000);
  if (maxMs < minMs) throw new ConfigError('nats.reconnect.maxMs', `must be at least nats.reconnect.minMs (${minMs}), got ${maxMs}`);
  return {
    servers: v.get('nats.servers') as string[],
    ...(auth ? { auth } : {}),
    ...(Object.keys(tlsSet).length ? { tls: tlsSet } : {}),
    ignoreClusterUpdates: (v.get('nats.ignoreClusterUpdates') as boolean | undefined) ?? false,
    reconnect: { minMs, maxMs },
    messageWindowMs: (v.get('nats.messageWindowMs') as number | undefined) ?? 30_000,
  };
}

/** The xmpp group: off when no xmpp.* field is set; else the four login fields are required. */
function buildXmpp(v: ReadonlyMap<string, unknown>): XmppConfig | undefined {
  const set = CONFIG_REFERENCE.filter((f) => f.field.startsWith('xmpp.') && v.has(f.field)).map((f) => f.field);
  if (set.length === 0) return undefined;
  for (const k of XMPP_REQUIRED) {
    // Name the fields that are set, never their values (the password is among them).
    if (!v.has(`xmpp.${k}`)) throw new ConfigError(`xmpp.${k}`, `required when xmpp is used (${set.join(', ')} set); xmpp needs ${XMPP_REQUIRED.map((x) => `xmpp.${x}`).join(', ')}`);
  }
  const minMs = (v.get('xmpp.reconnect.minMs') as number | undefined) ?? 1000;
  const maxMs = (v.get('xmpp.reconnect.maxMs') as number | undefined) ?? Math.max(minMs, 30_000);
  if (maxMs < minMs) throw new ConfigError('xmpp.reconnect.maxMs', `must be at least xmpp.reconnect.minMs (${minMs}), got ${maxMs}`);
  const resource = v.get('xmpp.resource') as string | undefined;
  const caFile = v.get('xmpp.tls.caFile') as string | undefined;
  return {
    service: v.get('xmpp.service') as string,
    domain: v.get('xmpp.domain') as string,
    username: v.get('xmpp.username') as string,
    password: v.get('xmpp.password') as string,
    ...(resource !== undefined ? { resource } : {}),
    tls: { ...(caFile !== undefined ? { caFile } : {}), rejectUnauthorized: (v.get('xmpp.tls.rejectUnauthorized') as boolean | undefined) ?? true },
    // Defaults as in bridge/xmpp (DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_BACKOFF); config stays free of @xmpp imports.
    maxPayloadBytes: (v.get('xmpp.maxPayloadBytes') as number | undefined) ?? 4096,
    reconnect: { minMs, maxMs },
  };
}

/** Two listeners on one host cannot share a fixed port. */
function checkPortClashes(c: GatewayConfig): void {
  const mqttPorts: [string, number | undefined][] = [['mqtt.port', c.mqtt.port], ['mqtt.tls.port', c.mqtt.tls?.port], ['mqtt.ws.port', c.mqtt.ws?.port]];
  const all = c.http.host === c.mqtt.host ? [...mqttPorts, ['http.port', c.http.port] as [string, number]] : mqttPorts;
  const seen = new Map<number, string>();
  for (const [field, p] of all) {
    if (p === undefined || p === 0) continue;
    const other = seen.get(p);
    if (other) throw new ConfigError(field, `port ${p} is already used by ${other}`);
    seen.set(p, field);
  }
}

/** The reference as a Markdown table (docs/configuration.md is generated from this). */
export function configReferenceMarkdown(): string {
  const rows = CONFIG_REFERENCE.map((f) =>
    `| \`${f.field}\` | ${f.env ? `\`${f.env}\`` : '-'} | ${f.flag ? `\`--${f.flag}\`` : '-'} | ${f.default} | ${f.meaning} |`);
  return ['| field | environment | flag | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n') + '\n';
}
