/**
 * Gateway configuration: defaults < JSON file < METERLEDGER_* environment < command-line
 * flags. SCHEMA below states every setting once: its kind and bounds, its default (taken
 * from the part that owns it: ledger-node, bridge/mqtt, bridge/xmpp, consensus), its
 * environment variable and flag, and what it means; the machinery is ./config-schema.ts.
 * GatewayConfig's type, parsing, the checks of each section, the flags of `start`,
 * `meterledger config show` and docs/configuration.md all come from it: a new setting is
 * one entry here. A bad value stops start-up with E_CONFIG_INVALID naming the field; so
 * does an unknown field in the file or an unknown METERLEDGER_* variable.
 */
import { NODE_DEFAULTS } from '../ledger-node/api.js';
import { DEFAULT_TIMEOUTS } from '../ledger-node/consensus/types.js';
import { DEFAULT_RECONNECT } from '../ledger-node/p2p/defaults.js';
import { DEFAULT_WINDOW_MS } from '../ledger-node/p2p/peers.js';
import { AUTO_ISSUE_DEFAULTS } from '../ledger-node/billing/auto-issue.js';
import { METER_ID_PATTERN } from '../protocols/payload.js';
import { readFileSync } from 'node:fs';
import { fsReason } from '../ledger-node/fs-errors.js';
import { readPrivateFile } from '../ledger-node/keyfile.js';
import { DEFAULT_MAX_PAYLOAD_BYTES as MQTT_MAX_PAYLOAD_BYTES, DEFAULT_TOKEN_MAX_AGE_MS } from '../bridge/mqtt/defaults.js';
import * as MQTT_DEFAULTS from '../bridge/mqtt/defaults.js';
import { DEFAULT_BACKOFF, DEFAULT_MAX_PAYLOAD_BYTES as XMPP_MAX_PAYLOAD_BYTES } from '../bridge/xmpp/defaults.js';
import {
  type ConfigOf, type ConfigRow, ConfigSchema, type Kind, type LoadInput, type Loaded,
  bool, host, int, oneOf, optionalSection, path, secret, section, setting, text, url, urls,
} from './config-schema.js';
import { ConfigError } from './errors.js';

export interface MqttAccountConfig {
  readonly username: string;
  /** From `hashPassword` of bridge/mqtt. */
  readonly passwordHash: string;
  readonly publish?: string[];
  readonly subscribe?: string[];
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The environment variable naming the config file, below --config. */
export const CONFIG_FILE_ENV = 'METERLEDGER_CONFIG';
/** Variables read by the CLI's clients (not settings of the gateway), allowed beside the settings. */
export const CLIENT_ENV = {
  METERLEDGER_URL: 'the gateway\'s HTTP API for meter register|rotate|revoke, simulate and verify (instead of --http URL)',
  METERLEDGER_TEST_BYZANTINE_BILL: 'TEST ONLY, dev and testnet chains only: a biller key file; this validator proposes every bill one minor unit too high (docs/consensus.md)',
} as const;

const port = int(0, 65535);
const DAY_MS = 86_400_000;
/** RFC 1035 §2.3.1 labels, or an IP address (tests log in to 127.0.0.1). */
const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** RFC 7622 §3.3.1 (PRECIS IdentifierClass, XEP-0106 escapes): no @ / " & ' : < >, spaces or controls. */
const LOCALPART = /^[^\s\x00-\x1f\x7f@/"&':<>]{1,256}$/;
/** RFC 7622 §3.4: any printable text; we refuse control characters and keep it short. */
const RESOURCE = /^[\x21-\x7e][\x20-\x7e]{0,255}$/;
const ADMIN_TOKEN_MIN = 16;

const accounts: Kind<MqttAccountConfig[]> = {
  parse(raw, s, bad, field) {
    let v = raw;
    if (s.text && typeof v === 'string') {
      try {
        v = JSON.parse(v);
      } catch {
        throw bad('must be a JSON array');
      }
    }
    if (!Array.isArray(v)) throw new ConfigError(field, `must be an array (from ${s.source})`);
    return v.map((a: unknown, i): MqttAccountConfig => {
      const at = `${field}[${i}]`;
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
        if (!Array.isArray(t) || !t.every((x) => typeof x === 'string' && x.length > 0)) throw new ConfigError(`${at}.${key}`, 'must be an array of topic filters');
        return t as string[];
      };
      const publish = topics('publish');
      const subscribe = topics('subscribe');
      return {
        username: o.username as string, passwordHash: o.passwordHash as string,
        ...(publish ? { publish } : {}), ...(subscribe ? { subscribe } : {}),
      };
    });
  },
};

/** Meter ids (comma-separated in the environment): mqtt.fullReceipts. */
const meterIds: Kind<string[]> = {
  parse(v, s, bad) {
    const list = s.text && typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && /^[^/+#\s]{1,128}$/.test(x))) throw bad('must be a list of meter ids');
    return [...new Set(list as string[])];
  },
};

/** http.adminToken, or the content of http.adminTokenFile (a private file, one line). */
function adminToken(v: { adminToken?: string; adminTokenFile?: string }): string | undefined {
  if (v.adminTokenFile === undefined) return v.adminToken;
  if (v.adminToken !== undefined) throw new ConfigError('http.adminTokenFile', 'set http.adminToken or http.adminTokenFile, not both');
  const token = readPrivateFile(v.adminTokenFile, 'admin token file').toString('utf8').replace(/\r?\n$/, '');
  if (token.length < ADMIN_TOKEN_MIN || /[\s]/.test(token)) {
    throw new ConfigError('http.adminTokenFile', `${v.adminTokenFile} must hold one token of at least ${ADMIN_TOKEN_MIN} characters and no spaces`);
  }
  return token;
}

/** A pinned genesis hash: 64 hex digits, kept in lowercase as toHex writes it. */
const genesisHashKind: Kind<string> = {
  parse: (v, s, bad, field) => text(/^[0-9a-fA-F]{64}$/, '64 hex digits (meterledger genesis hash FILE)').parse(v, s, bad, field).toLowerCase(),
};

/** Every setting: where it comes from, its default and what it means. */
const SCHEMA = section({
  dataDir: setting(path(), {
    required: true, env: 'METERLEDGER_DATA_DIR', flag: 'data-dir',
    meaning: 'Folder of the node: genesis.json, store/, wal/, keys/ and an optional config.json. A missing chain is created as a dev chain, unless the folder holds keys (meterledger keygen) or genesisHash is set: then start refuses (E_NO_GENESIS) until meterledger genesis install.',
  }),
  genesisHash: setting(genesisHashKind, {
    env: 'METERLEDGER_GENESIS_HASH', flag: 'genesis-hash', shown: '(not pinned)',
    meaning: 'The genesis hash agreed with the other parties: start refuses a data dir whose genesis.json has another hash, or none. meterledger genesis install sets it in the data dir\'s config.json.',
  }),
  mqtt: section({
    host: setting(host, { default: '127.0.0.1', env: 'METERLEDGER_MQTT_HOST', flag: 'mqtt-host', meaning: 'Address the MQTT listeners (TCP, TLS, WebSocket) bind to.' }),
    port: setting(port, { default: 1883, env: 'METERLEDGER_MQTT_PORT', flag: 'mqtt-port', meaning: 'MQTT over TCP port (0 picks a free port).' }),
    tls: optionalSection({
      port: setting(port, { required: true, env: 'METERLEDGER_MQTT_TLS_PORT', meaning: 'MQTT over TLS port; set with keyFile and certFile to enable TLS.' }),
      keyFile: setting(path('private'), { required: true, env: 'METERLEDGER_MQTT_TLS_KEY_FILE', meaning: 'PEM private key of the TLS listener (private to its owner: mode 0600, or root\'s 0640).' }),
      certFile: setting(path('read'), { required: true, env: 'METERLEDGER_MQTT_TLS_CERT_FILE', meaning: 'PEM certificate chain of the TLS listener.' }),
      caFile: setting(path('read'), { env: 'METERLEDGER_MQTT_TLS_CA_FILE', meaning: 'PEM CA bundle for client certificates (optional).' }),
    }),
    ws: optionalSection({
      port: setting(port, { required: true, env: 'METERLEDGER_MQTT_WS_PORT', meaning: 'MQTT over WebSocket port; unset disables it.' }),
    }),
    plaintext: setting(bool, {
      default: true, env: 'METERLEDGER_MQTT_PLAINTEXT',
      meaning: 'Serve MQTT over plain TCP on mqtt.port. false leaves only the TLS listener (and WebSocket, if set), and needs mqtt.tls; the production configs in deploy/ set false.',
    }),
    allowAnonymous: setting(bool, { default: false, env: 'METERLEDGER_MQTT_ALLOW_ANONYMOUS', meaning: 'Accept CONNECT without credentials (tests only).' }),
    tokenMaxAgeMs: setting(int(1000, DAY_MS), { default: DEFAULT_TOKEN_MAX_AGE_MS, env: 'METERLEDGER_MQTT_TOKEN_MAX_AGE_MS', meaning: 'How far a meter CONNECT token time may be from the gateway clock, ms.' }),
    maxPayloadBytes: setting(int(64, 1_048_576), { default: MQTT_MAX_PAYLOAD_BYTES, env: 'METERLEDGER_MQTT_MAX_PAYLOAD_BYTES', meaning: 'Largest PUBLISH payload accepted, bytes.' }),
    accounts: setting(accounts, { default: () => [], shown: '[]', meaning: 'Non-meter MQTT users (file only): [{username, passwordHash, publish?, subscribe?}].' }),
    maxConnectionsPerListener: setting(int(1, 1_000_000), {
      default: MQTT_DEFAULTS.DEFAULT_MAX_CONNECTIONS_PER_LISTENER, env: 'METERLEDGER_MQTT_MAX_CONNECTIONS_PER_LISTENER',
      meaning: 'Sockets each MQTT listener (TCP, TLS, WebSocket) holds at most; more are closed on arrival. Keep the sum under the open-file limit.',
    }),
    maxSessionsPerMeter: setting(int(1, 1000), {
      default: MQTT_DEFAULTS.DEFAULT_MAX_SESSIONS_PER_METER, env: 'METERLEDGER_MQTT_MAX_SESSIONS_PER_METER',
      meaning: 'MQTT sessions (connected or stored) one meter may hold; a new one ends its least recently used.',
    }),
    maxQueuedMessages: setting(int(1, 1_000_000), {
      default: MQTT_DEFAULTS.DEFAULT_MAX_QUEUED_MESSAGES, env: 'METERLEDGER_MQTT_MAX_QUEUED_MESSAGES',
      meaning: 'Messages queued per MQTT session at most; beyond it, new ones are dropped for that session.',
    }),
    sessionExpiryMs: setting(int(60_000, 365 * DAY_MS), {
      default: MQTT_DEFAULTS.DEFAULT_SESSION_EXPIRY_MS, env: 'METERLEDGER_MQTT_SESSION_EXPIRY_MS',
      meaning: 'A stored (CleanSession 0) MQTT session ends this long after its last connection closed, ms.',
    }),
    fullReceipts: setting(meterIds, {
      default: () => [], shown: '[]', env: 'METERLEDGER_MQTT_FULL_RECEIPTS',
      meaning: 'Meters that get full receipts (docs/protocol.md §7) on their receipts topic instead of compact ones (§8.3.1); others ask for one on meters/<id>/receipts/get.',
    }),
  }, {
    finish: (v) => {
      if (!v.plaintext && !v.tls) throw new ConfigError('mqtt.plaintext', 'false needs mqtt.tls (port, keyFile, certFile): meters would have no listener');
      return v;
    },
  }),
  http: section({
    host: setting(host, { default: '127.0.0.1', env: 'METERLEDGER_HTTP_HOST', flag: 'http-host', meaning: 'Address the HTTP API binds to.' }),
    port: setting(port, { default: 8080, env: 'METERLEDGER_HTTP_PORT', flag: 'http-port', meaning: 'HTTP API port (0 picks a free port).' }),
    adminToken: setting(secret(ADMIN_TOKEN_MIN), {
      env: 'METERLEDGER_HTTP_ADMIN_TOKEN', shown: '(unset: <dataDir>/admin.token on a box with the operator key, else POST endpoints disabled)',
      meaning: `Bearer token required by POST endpoints, at least ${ADMIN_TOKEN_MIN} characters. In a config file, the file must be private (mode 0600); the CLI's meter register, rotate and revoke read the same variable.`,
    }),
    adminTokenFile: setting(path('private'), {
      env: 'METERLEDGER_HTTP_ADMIN_TOKEN_FILE',
      meaning: 'File holding the admin token (one line, mode 0600), instead of http.adminToken.',
    }),
    sessionTtlMs: setting(int(1000, 86_400_000), {
      default: 15 * 60_000, env: 'METERLEDGER_HTTP_SESSION_TTL_MS',
      meaning: 'An owner\'s session (signed-in portal) lasts this long, ms; its event streams end then with a session-ended event.',
    }),
    meterSilenceMs: setting(int(1000, 366 * DAY_MS), {
      env: 'METERLEDGER_HTTP_METER_SILENCE_MS', shown: '(3 times the meter\'s usual interval, at least a minute)',
      meaning: 'A meter whose newest reading is older than this, ms, is reported silent on its live feed (the portal\'s "meter gone silent").',
    }),
    tls: optionalSection({
      keyFile: setting(path('private'), { required: true, env: 'METERLEDGER_HTTP_TLS_KEY_FILE', meaning: 'PEM private key: serve the HTTP API and the portal over HTTPS (mode 0600). A browser signs in to the portal with WebCrypto only on HTTPS or localhost.' }),
      certFile: setting(path('read'), { required: true, env: 'METERLEDGER_HTTP_TLS_CERT_FILE', meaning: 'PEM certificate chain of the HTTPS listener; set with http.tls.keyFile.' }),
    }),
  }, {
    finish: (v) => {
      const token = adminToken(v);
      return { host: v.host, port: v.port, sessionTtlMs: v.sessionTtlMs, ...(v.meterSilenceMs !== undefined ? { meterSilenceMs: v.meterSilenceMs } : {}), ...(v.tls ? { tls: v.tls } : {}), ...(token !== undefined ? { adminToken: token } : {}) };
    },
  }),
  ledger: section({
    blockIntervalMs: setting(int(10, 3_600_000), { default: NODE_DEFAULTS.blockIntervalMs, env: 'METERLEDGER_BLOCK_INTERVAL_MS', meaning: 'Cut a block at least this often while readings wait, ms.' }),
    blockMaxTxs: setting(int(1, 1_000_000), { default: NODE_DEFAULTS.blockMaxTxs, env: 'METERLEDGER_BLOCK_MAX_TXS', meaning: 'Cut a block as soon as this many transactions wait (capped by genesis maxBlockTxs).' }),
    maxPastMs: setting(int(0), { default: NODE_DEFAULTS.maxPastMs, shown: `${NODE_DEFAULTS.maxPastMs} (${NODE_DEFAULTS.maxPastMs / DAY_MS} days)`, env: 'METERLEDGER_MAX_PAST_MS', meaning: 'A reading may be this far behind the gateway clock, ms (at most genesis params.maxReadingPastMs).' }),
    maxFutureMs: setting(int(0), { default: NODE_DEFAULTS.maxFutureMs, env: 'METERLEDGER_MAX_FUTURE_MS', meaning: 'A reading may be this far ahead of the gateway clock, ms (at most genesis params.maxReadingFutureMs).' }),
    maxBacklog: setting(int(1, 100_000_000), { default: NODE_DEFAULTS.maxBacklog, env: 'METERLEDGER_MAX_BACKLOG', meaning: 'Accepted, uncommitted transactions allowed before E_GATEWAY_BUSY.' }),
    meterRatePerSecond: setting(int(0, 1_000_000), { default: NODE_DEFAULTS.meterRatePerSecond, env: 'METERLEDGER_METER_RATE_PER_SECOND', meaning: 'Readings per second one meter may send on average; beyond it E_READING_RATE_LIMITED (0: no limit).' }),
    meterBurst: setting(int(1, 10_000_000), { default: NODE_DEFAULTS.meterBurst, env: 'METERLEDGER_METER_BURST', meaning: 'Readings one meter may send at once before its rate applies.' }),
    nodeId: setting(text(METER_ID_PATTERN, 'a validator id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})'), { env: 'METERLEDGER_NODE_ID', shown: '(from genesis)', meaning: 'This node\'s validator id when its key is in no genesis list: a validator added by a set change (docs/protocol.md §13) starting from an empty store. Not needed once the change is committed.' }),
    verifyWorkers: setting(int(0, 256), { default: NODE_DEFAULTS.verifyWorkers, shown: '(number of CPUs)', env: 'METERLEDGER_VERIFY_WORKERS', meaning: 'Signature-verification worker threads; 0 verifies on the main thread.' }),
  }),
  log: section({
    level: setting(oneOf(LOG_LEVELS), { default: 'info', env: 'METERLEDGER_LOG_LEVEL', flag: 'log-level', meaning: `Log level (logs go to stderr): ${LOG_LEVELS.join(', ')}.` }),
    format: setting(oneOf(LOG_FORMATS), {
      default: () => (process.stderr.isTTY ? 'text' : 'json'), shown: '(text on a terminal, else json)', env: 'METERLEDGER_LOG_FORMAT', flag: 'log-format',
      meaning: 'text: one readable line per event (ISO time, level, component, message, fields); json: one JSON object per line (pino), for log collectors.',
    }),
  }),
  /** The XMPP bridge (docs/xmpp.md): any xmpp.* setting enables it. */
  xmpp: optionalSection({
    service: setting(url(['xmpp', 'xmpps']), {
      required: true, env: 'METERLEDGER_XMPP_SERVICE',
      meaning: 'XMPP server the bridge logs in to: xmpp://host:5222 (STARTTLS; required off loopback, see xmpp.tls.allowPlaintext) or xmpps://host:5223 (direct TLS). Any xmpp.* setting enables the bridge; then service, domain, username and password are all required.',
    }),
    domain: setting(text(DOMAIN, 'a domain name'), { required: true, env: 'METERLEDGER_XMPP_DOMAIN', meaning: 'XMPP domain of the gateway and meter accounts (the TLS server name), e.g. site.example.' }),
    username: setting(text(LOCALPART, 'an XMPP local part (no @, /, quotes or spaces)'), { required: true, env: 'METERLEDGER_XMPP_USERNAME', meaning: 'Local part of the gateway\'s XMPP account: meters send their readings to username@domain.' }),
    password: setting(secret(1), { required: true, env: 'METERLEDGER_XMPP_PASSWORD', meaning: 'Password of the gateway\'s XMPP account (SCRAM-SHA-1; PLAIN only over TLS).' }),
    resource: setting(text(RESOURCE, 'a resource of 1..256 printable characters'), { env: 'METERLEDGER_XMPP_RESOURCE', shown: '(chosen by the server)', meaning: 'Resource of the gateway\'s session (the part after / of its full JID).' }),
    tls: section({
      caFile: setting(path('read'), { env: 'METERLEDGER_XMPP_TLS_CA_FILE', shown: '(system CAs)', meaning: 'PEM CA (or self-signed certificate) to trust for the XMPP server, instead of the system store.' }),
      rejectUnauthorized: setting(bool, { default: true, env: 'METERLEDGER_XMPP_TLS_REJECT_UNAUTHORIZED', meaning: 'Verify the XMPP server certificate; false only for tests.' }),
      allowPlaintext: setting(bool, {
        default: false, env: 'METERLEDGER_XMPP_TLS_ALLOW_PLAINTEXT',
        meaning: 'Log in over xmpp:// without TLS when the server offers no STARTTLS. Off, such a server is refused (E_XMPP_TLS_REQUIRED) unless it is on a loopback address.',
      }),
    }),
    maxPayloadBytes: setting(int(64, 1_048_576), { default: XMPP_MAX_PAYLOAD_BYTES, env: 'METERLEDGER_XMPP_MAX_PAYLOAD_BYTES', meaning: 'Largest reading accepted over XMPP, in base64-decoded bytes.' }),
    reconnect: section({
      minMs: setting(int(1, 3_600_000), { default: DEFAULT_BACKOFF.minMs, env: 'METERLEDGER_XMPP_RECONNECT_MIN_MS', meaning: 'First delay before logging in again after the XMPP connection is lost, ms (doubling, jittered).' }),
      maxMs: setting(int(1, 3_600_000), { default: DEFAULT_BACKOFF.maxMs, env: 'METERLEDGER_XMPP_RECONNECT_MAX_MS', meaning: 'Longest delay between XMPP login attempts, ms; at least xmpp.reconnect.minMs.' }),
    }, {
      finish: (v, ctx) => {
        // Unset, the longest delay follows a first delay above its default.
        const maxMs = ctx.isGiven('maxMs') ? v.maxMs : Math.max(v.minMs, v.maxMs);
        if (maxMs < v.minMs) throw new ConfigError('xmpp.reconnect.maxMs', `must be at least xmpp.reconnect.minMs (${v.minMs}), got ${maxMs}`);
        return { minMs: v.minMs, maxMs };
      },
    }),
  }),
  /** How to reach the other gateways (docs/consensus.md); absent for a lone validator. */
  nats: optionalSection({
    servers: setting(urls(['nats', 'tls']), {
      required: true, env: 'METERLEDGER_NATS_SERVERS', shown: '(none: a lone validator)',
      meaning: 'NATS servers where the gateways of the chain meet (nats://host:4222, comma-separated in the environment). Required when genesis has more than one validator or this gateway is an observer. Credentials in a URL (nats://user:pass@host, nats://token@host) are used when no other nats auth is set, and never logged.',
    }),
    user: setting(text(/^[^\s]{1,256}$/, 'a user name without spaces'), { env: 'METERLEDGER_NATS_USER', meaning: 'NATS user; set with nats.pass.' }),
    pass: setting(secret(1), { env: 'METERLEDGER_NATS_PASS', meaning: 'NATS password.' }),
    token: setting(secret(1), { env: 'METERLEDGER_NATS_TOKEN', meaning: 'NATS token (instead of user and password).' }),
    nkeySeedFile: setting(path('private'), { env: 'METERLEDGER_NATS_NKEY_SEED_FILE', meaning: 'File holding the NATS nkey seed (SU...), for nkey authentication (mode 0600).' }),
    tls: optionalSection({
      caFile: setting(path('read'), { env: 'METERLEDGER_NATS_TLS_CA_FILE', shown: '(system CAs)', meaning: 'PEM CA bundle to check the NATS servers with.' }),
      certFile: setting(path('read'), { env: 'METERLEDGER_NATS_TLS_CERT_FILE', meaning: 'PEM client certificate for NATS (mutual TLS).' }),
      keyFile: setting(path('private'), { env: 'METERLEDGER_NATS_TLS_KEY_FILE', meaning: 'PEM client key for NATS (mutual TLS; mode 0600).' }),
    }, {
      finish: (v) => {
        if ((v.certFile === undefined) !== (v.keyFile === undefined)) {
          throw new ConfigError(v.certFile === undefined ? 'nats.tls.certFile' : 'nats.tls.keyFile', 'nats.tls.certFile and nats.tls.keyFile go together');
        }
        return v;
      },
    }),
    ignoreClusterUpdates: setting(bool, { default: false, env: 'METERLEDGER_NATS_IGNORE_CLUSTER_UPDATES', meaning: 'Use only nats.servers, not the addresses the NATS cluster advertises (NATS behind a proxy or NAT).' }),
    reconnect: section({
      minMs: setting(int(10, 3_600_000), {
        default: DEFAULT_RECONNECT.minMs, env: 'METERLEDGER_NATS_RECONNECT_MIN_MS',
        meaning: 'Wait between attempts on one NATS server while reconnecting, and the first wait when no server is reachable (a gateway starts without NATS and joins when it answers), ms; doubling (jittered) up to nats.reconnect.maxMs.',
      }),
      maxMs: setting(int(10, 3_600_000), {
        default: DEFAULT_RECONNECT.maxMs, env: 'METERLEDGER_NATS_RECONNECT_MAX_MS',
        meaning: 'Longest wait between attempts to reach NATS, ms; at least nats.reconnect.minMs. Dialling never gives up.',
      }),
    }, {
      finish: (v, ctx) => {
        // Unset, the longest wait follows a first wait above its default.
        const maxMs = ctx.isGiven('maxMs') ? v.maxMs : Math.max(v.minMs, v.maxMs);
        if (maxMs < v.minMs) throw new ConfigError('nats.reconnect.maxMs', `must be at least nats.reconnect.minMs (${v.minMs}), got ${maxMs}`);
        return { minMs: v.minMs, maxMs };
      },
    }),
    messageWindowMs: setting(int(1000, 600_000), {
      default: DEFAULT_WINDOW_MS, env: 'METERLEDGER_NATS_MESSAGE_WINDOW_MS',
      meaning: 'Peer messages dated further than this before or after this gateway\'s clock are refused, and replays within it are refused (docs/protocol.md §12.3), ms. Keep the gateways\' clocks well within it (NTP).',
    }),
    stream: section({
      enabled: setting(bool, {
        default: true, env: 'METERLEDGER_NATS_STREAM_ENABLED',
        meaning: 'Durable gossip: publish every accepted transaction to a JetStream stream (nats-server -js) that every validator consumes, so that no accepted reading misses a validator when NATS drops messages or a gateway is down (docs/consensus.md, "Failover"). Without JetStream the gateway runs as before and publishes its write-ahead when JetStream answers.',
      }),
      replicas: setting(int(1, 5), {
        default: 1, env: 'METERLEDGER_NATS_STREAM_REPLICAS',
        meaning: 'Replicas of the stream, when this gateway is the first to create it: 3 on a 3-server NATS cluster keeps it through the loss of one server.',
      }),
      maxAgeMs: setting(int(60_000), {
        default: 604_800_000, env: 'METERLEDGER_NATS_STREAM_MAX_AGE_MS',
        meaning: 'Retention of the stream (when created here): messages older than this go, ms (default 7 days). Gateways publish what still waits in their write-ahead again every half of it.',
      }),
      maxBytes: setting(int(1_048_576), {
        default: 1_073_741_824, env: 'METERLEDGER_NATS_STREAM_MAX_BYTES',
        meaning: 'Retention of the stream (when created here): its size at most, bytes; the oldest messages go first.',
      }),
    }),
  }, {
    // One way of authenticating at most; the node takes NatsOptions (ledger-node/api.ts).
    finish: (v) => {
      const { user, pass, token, nkeySeedFile } = v;
      if ((user === undefined) !== (pass === undefined)) throw new ConfigError(user === undefined ? 'nats.user' : 'nats.pass', 'nats.user and nats.pass go together');
      if ([user !== undefined, token !== undefined, nkeySeedFile !== undefined].filter(Boolean).length > 1) {
        throw new ConfigError('nats.token', 'choose one of nats.user/pass, nats.token or nats.nkeySeedFile');
      }
      let auth: { user: string; pass: string } | { token: string } | { nkeySeed: string } | undefined;
      if (user !== undefined) auth = { user, pass: pass! };
      else if (token !== undefined) auth = { token };
      else if (nkeySeedFile !== undefined) {
        const seed = readPrivateFile(nkeySeedFile, 'NATS nkey seed file').toString('utf8').trim();
        if (!/^SU[A-Z2-7]{50,}$/.test(seed)) throw new ConfigError('nats.nkeySeedFile', `${nkeySeedFile} does not hold a user nkey seed (SU...)`);
        auth = { nkeySeed: seed };
      }
      if (auth && v.servers.some((u) => /^[a-z][a-z0-9+.-]*:\/\/[^/@]*@/i.test(u))) {
        throw new ConfigError('nats.servers', 'a URL carries credentials and nats.user, nats.token or nats.nkeySeedFile is set too: give them once');
      }
      return {
        servers: v.servers, ...(auth ? { auth } : {}), ...(v.tls ? { tls: v.tls } : {}),
        ignoreClusterUpdates: v.ignoreClusterUpdates, reconnect: v.reconnect, messageWindowMs: v.messageWindowMs, stream: v.stream,
      };
    },
  }),
  /** Billing (docs/billing.md): a gateway holding a biller key may issue bills by itself. */
  billing: section({
    autoIssue: optionalSection({
      keyFile: setting(path('private'), {
        required: true, env: 'METERLEDGER_BILLING_AUTO_ISSUE_KEY_FILE',
        meaning: 'Key file (mode 0600) of a genesis operator with the biller role; setting it enables autoIssue: at each period\'s close the gateway computes every bill of the meters whose agreements this biller set, over committed state, and submits it (docs/billing.md §17.1).',
      }),
      recipientKeyFile: setting(path('private'), {
        env: 'METERLEDGER_BILLING_AUTO_ISSUE_RECIPIENT_KEY_FILE',
        meaning: 'Recipient key file (mode 0600, {"id", "kem", "secretKey"}) of the biller: with it, bills of confidential meters wrapped to this key are issued too, disclosing the readings they need (docs/billing.md §17.2); the period keys are opened once each, off the reading path.',
      }),
      payee: setting(text(METER_ID_PATTERN, 'an account id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})'), { required: true, env: 'METERLEDGER_BILLING_AUTO_ISSUE_PAYEE', meaning: 'Account the issued bills are paid to (an open account).' }),
      retryMinMs: setting(int(100, 3_600_000), { default: AUTO_ISSUE_DEFAULTS.retryMinMs, env: 'METERLEDGER_BILLING_AUTO_ISSUE_RETRY_MIN_MS', meaning: 'How often bills are looked for, and the first wait before a bill not ready (E_BILL_NOT_READY) is tried again, ms; the wait doubles per try.' }),
      retryMaxMs: setting(int(100, 86_400_000), { default: AUTO_ISSUE_DEFAULTS.retryMaxMs, env: 'METERLEDGER_BILLING_AUTO_ISSUE_RETRY_MAX_MS', meaning: 'Longest wait between two tries of one meter\'s bill, ms.' }),
    }),
  }),
  /** Consensus round timeouts: each grows by half its base per round. */
  consensus: section({
    proposeTimeoutMs: setting(int(10, 600_000), { default: DEFAULT_TIMEOUTS.proposeBaseMs, env: 'METERLEDGER_CONSENSUS_PROPOSE_TIMEOUT_MS', meaning: 'How long validators wait for a proposal in round 0, ms; +50% per round.' }),
    prevoteTimeoutMs: setting(int(10, 600_000), { default: DEFAULT_TIMEOUTS.prevoteBaseMs, env: 'METERLEDGER_CONSENSUS_PREVOTE_TIMEOUT_MS', meaning: 'How long validators wait for more prevotes once two thirds voted, ms; +50% per round.' }),
    precommitTimeoutMs: setting(int(10, 600_000), { default: DEFAULT_TIMEOUTS.precommitBaseMs, env: 'METERLEDGER_CONSENSUS_PRECOMMIT_TIMEOUT_MS', meaning: 'How long validators wait for more precommits once two thirds voted, ms; +50% per round.' }),
  }),
}, { finish: (c) => checkPortClashes(c) });

/** Two listeners on one host cannot share a fixed port. */
function checkPortClashes<C extends { mqtt: { host: string; port: number; plaintext: boolean; tls?: { port: number }; ws?: { port: number } }; http: { host: string; port: number } }>(c: C): C {
  const mqttPorts: [string, number | undefined][] = [['mqtt.port', c.mqtt.plaintext ? c.mqtt.port : undefined], ['mqtt.tls.port', c.mqtt.tls?.port], ['mqtt.ws.port', c.mqtt.ws?.port]];
  const all = c.http.host === c.mqtt.host ? [...mqttPorts, ['http.port', c.http.port] as [string, number]] : mqttPorts;
  const seen = new Map<number, string>();
  for (const [field, p] of all) {
    if (p === undefined || p === 0) continue;
    const other = seen.get(p);
    if (other) throw new ConfigError(field, `port ${p} is already used by ${other}`);
    seen.set(p, field);
  }
  return c;
}

const schema = new ConfigSchema(SCHEMA, { fileEnv: CONFIG_FILE_ENV, envPrefix: 'METERLEDGER_', otherEnv: CLIENT_ENV, dataDirField: 'dataDir' });

export type GatewayConfig = ConfigOf<typeof SCHEMA>;
/** How the gateway logs in to the site's XMPP server as a client (bridge/xmpp). */
export type XmppConfig = NonNullable<GatewayConfig['xmpp']>;

/** Every setting as one row: field, environment variable, flag, default as shown, meaning. */
export const CONFIG_REFERENCE: readonly ConfigRow[] = schema.rows();

export type LoadConfigInput = LoadInput;
export type ConfigFlags = NonNullable<LoadInput['flags']>;

/** The configuration with each value's source (for `meterledger config show`). */
export function resolveConfig(input: LoadConfigInput = {}): Loaded<GatewayConfig> {
  return schema.load(input);
}

export function loadConfig(input: LoadConfigInput = {}): GatewayConfig {
  return schema.load(input).config;
}

/** The files a configuration names, with whether each holds a secret. */
export function configFiles(loaded: Loaded<GatewayConfig>): { field: string; path: string; kind: 'read' | 'private' }[] {
  return schema.files(loaded.values);
}

/**
 * Check the files a configuration names before anything starts: each one is there and
 * readable, and those holding a secret (TLS and NATS keys, seeds, token files) are private
 * (E_KEY_PERMISSIONS otherwise, the rule of ledger-node/keyfile.ts).
 */
export function checkConfigFiles(loaded: Loaded<GatewayConfig>): void {
  for (const f of configFiles(loaded)) {
    if (f.kind === 'private') {
      readPrivateFile(f.path, `file for ${f.field}`);
      continue;
    }
    try {
      readFileSync(f.path); // certificates and CA bundles: small
    } catch (e) {
      throw new ConfigError(f.field, `cannot read ${f.path}: ${fsReason(e)}`, { cause: e });
    }
  }
}

/** What `meterledger start` runs on: the configuration, its files checked. */
export function loadStartConfig(input: LoadConfigInput): GatewayConfig {
  const loaded = resolveConfig(input);
  checkConfigFiles(loaded);
  return loaded.config;
}

/** Flags of `meterledger start` (and `config show|check`): one per setting with a flag. */
export function configFlagOptions(): Record<string, { type: 'string'; value: string; help: string }> {
  const out: Record<string, { type: 'string'; value: string; help: string }> = {};
  for (const r of CONFIG_REFERENCE) {
    if (!r.flag) continue;
    const first = r.meaning.split(/(?<=\.) /)[0]!.replace(/\.$/, '');
    const dflt = r.default === '(required)' ? 'required' : `default ${r.default.replace(/^\((.*)\)$/, '$1')}`;
    out[r.flag] = { type: 'string', value: r.flag.split('-').at(-1)!.toUpperCase(), help: `${first} (${r.field}, ${r.env ?? 'no variable'}; ${dflt})` };
  }
  return out;
}

/** The reference as a Markdown table (docs/configuration.md is generated from this). */
export function configReferenceMarkdown(): string {
  const rows = CONFIG_REFERENCE.map((f) =>
    `| \`${f.field}\` | ${f.env ? `\`${f.env}\`` : '-'} | ${f.flag ? `\`--${f.flag}\`` : '-'} | ${f.default} | ${f.meaning} |`);
  return ['| field | environment | flag | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n') + '\n';
}
