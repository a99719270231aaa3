/**
 * The composition root: one ledger node, the MQTT broker and (when configured) the XMPP
 * bridge feeding its intake, the HTTP API and the metrics registry, started in that order
 * and stopped so that nothing accepted is lost: MQTT and XMPP first (no new readings),
 * then the node (flushes), then HTTP.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LedgerNode } from '../ledger-node/node.js';
import { BYZANTINE_BILL_ENV, byzantineBillFromEnv } from '../ledger-node/blocks/byzantine-bill.js';
import { KeyObjectCache, nativeVerify } from '../ledger-node/crypto/native.js';
import { loadKeyFile, readPrivateFile } from '../ledger-node/keyfile.js';
import { fsReason } from '../ledger-node/fs-errors.js';
import { dataPaths, initDevChain, isInitialized, loadGenesisFile } from '../ledger-node/devchain.js';
import { type DevAccountPlan, readDevAccountPlan } from '../ledger-node/billing/dev-setup.js';
import { MqttBroker } from '../bridge/mqtt/index.js';
import { type BillsTopicMessage, type Genesis, ProtocolError, StateKind, genesisHash, toHex } from '../protocols/index.js';
import { type GatewayBilling, onDroppedPayment, startBilling } from './billing.js';
import { XmppBridge, XmppBridgeError, type XmppState } from '../bridge/xmpp/index.js';
import type { GatewayConfig, XmppConfig } from './config.js';
import { ConfigError, GatewayError } from './errors.js';
import { type HttpApi, type HttpTls, startHttpApi } from './http/server.js';
import { type Enrolment, EnrolmentCodes, registrarBinder, registrarIdOf } from './http/enrol.js';
import { SessionStore } from './http/sessions.js';
import { billingMessages } from '../ledger-node/billing/outcomes.js';
import type { GatewayLogger } from './logger.js';
import { GatewayMetrics } from './metrics.js';
import { readinessReasons } from './readiness.js';
import { PLAINTEXT_WARNING, plaintextWarnings, xmppTlsRequired } from './transport-security.js';
import { VERSION } from './version.js';

/** What the gateway needs of the broker (bridge/mqtt MqttBroker). */
export interface BrokerHandle {
  addresses(): { tcp?: number; tls?: number; ws?: number };
  connectedClients(): number;
  /** Publish on a meter's bills topic (docs/protocol.md §8.7). */
  publishBills(meterId: string, m: BillsTopicMessage): void;
  close(): Promise<void>;
}

/** What the gateway needs of the XMPP bridge (bridge/xmpp XmppBridge). */
export interface XmppHandle {
  state(): XmppState;
  close(): Promise<void>;
}

export interface Gateway {
  readonly node: LedgerNode;
  readonly billing: GatewayBilling;
  readonly broker: BrokerHandle;
  /** The XMPP bridge, when `xmpp` is configured. */
  readonly xmpp: XmppHandle | undefined;
  readonly http: HttpApi;
  readonly metrics: GatewayMetrics;
  /** `mqtt://`, `mqtts://`, `ws://` and `http://` URLs of the listeners, and the portal's page. */
  readonly urls: { mqtt?: string; mqtts?: string; ws?: string; http: string; portal: string };
  /** Stop MQTT and XMPP, then the node, then HTTP. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger: GatewayLogger;
  /** Plain-words notices for the operator (default: stdout, so stderr holds only log lines). */
  readonly notice?: (line: string) => void;
}

const DEV_CHAIN_METERS = 10;

function readPem(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(field, `cannot read ${path}: ${fsReason(cause)}`, { cause });
  }
}

/** The HTTPS listener's key and certificate, read (and the key's mode checked) before anything opens. */
function httpTls(t: GatewayConfig['http']['tls']): HttpTls | undefined {
  if (t === undefined) return undefined;
  return { key: readPrivateFile(t.keyFile, 'HTTPS key (http.tls.keyFile)').toString('utf8'), cert: readPem(t.certFile, 'http.tls.certFile') };
}

/** Log in to the site's XMPP server; a failure names the settings to check. */
async function startXmpp(x: XmppConfig, node: LedgerNode, metrics: GatewayMetrics, log: GatewayLogger): Promise<XmppBridge> {
  const ca = x.tls.caFile !== undefined ? readPem(x.tls.caFile, 'xmpp.tls.caFile') : undefined;
  try {
    const bridge = await XmppBridge.start({
      intake: node.intake,
      service: x.service, domain: x.domain, username: x.username, password: x.password,
      ...(x.resource !== undefined ? { resource: x.resource } : {}),
      tls: { rejectUnauthorized: x.tls.rejectUnauthorized, required: xmppTlsRequired(x), ...(ca !== undefined ? { ca } : {}) },
      maxPayloadBytes: x.maxPayloadBytes,
      reconnect: x.reconnect,
      logger: log,
      metrics: metrics.xmpp,
    });
    log.info({ service: x.service, jid: `${x.username}@${x.domain}` }, 'xmpp bridge online');
    return bridge;
  } catch (e) {
    if (!(e instanceof XmppBridgeError)) throw e;
    // The bridge's message names the service and the JID, never the password.
    const check = e.code === 'E_XMPP_AUTH'
      ? 'check xmpp.username and xmpp.password (and that the account exists on the server)'
      : e.code === 'E_XMPP_TLS_REQUIRED'
      ? 'enable TLS on the XMPP server, use xmpps://, or (on a trusted network only) set xmpp.tls.allowPlaintext'
      : 'check xmpp.service, xmpp.domain and xmpp.tls.caFile / xmpp.tls.rejectUnauthorized, and that the XMPP server is up';
    throw new GatewayError(e.code, `${e.message}; ${check}`, { cause: e });
  }
}

/**
 * Name the port and the setting to change when a listener cannot open: `fields` are the
 * settings of that listener group with their ports, the one matching the error's port named.
 */
function listenError(e: unknown, what: string, host: string, fields: readonly (readonly [string, number | undefined])[]): never {
  const code = (e as { code?: string }).code;
  // The broker checks accounts (hash format, topic filters) and says which one is wrong.
  if (e instanceof TypeError && /^mqtt account/.test(e.message)) throw new ConfigError('mqtt.accounts', e.message, { cause: e });
  const port = (e as { port?: number }).port;
  const hit = fields.find(([, p]) => p !== undefined && p === port);
  const field = hit ? hit[0] : fields.map(([f]) => f).join(' / ');
  const at = port !== undefined ? `${host}:${port}` : host;
  if (code === 'EADDRINUSE') throw new GatewayError('E_ADDR_IN_USE', `${what} on ${at}: port ${port ?? '?'} is in use by another program; change ${field}`, { cause: e });
  if (code === 'EADDRNOTAVAIL') throw new GatewayError('E_LISTEN', `${what} on ${at}: ${host} is not an address of this machine; check the host setting`, { cause: e });
  if (code === 'EACCES') throw new GatewayError('E_LISTEN', `${what} on ${at}: no permission to listen on port ${port ?? '?'} (below 1024 needs CAP_NET_BIND_SERVICE); change ${field}`, { cause: e });
  throw e;
}

/**
 * The data dir's genesis, checked against the pinned hash if there is one. An empty data dir
 * gets a dev chain, but not one made for a consortium (holding keys from `meterledger
 * keygen`, or with a hash pinned): that one is refused until `meterledger genesis install`.
 */
function openGenesis(config: GatewayConfig, log: GatewayLogger, notice: (line: string) => void): Genesis {
  const { dataDir, genesisHash: pin } = config;
  const p = dataPaths(dataDir);
  if (!isInitialized(dataDir)) {
    const install = `install the agreed genesis with meterledger genesis install FILE --data-dir ${dataDir} --expect-hash ${pin ?? 'H'}`;
    if (pin !== undefined) throw new GatewayError('E_NO_GENESIS', `${dataDir} holds no genesis.json but genesisHash is pinned to ${pin}: ${install}`);
    if (existsSync(p.keys)) throw new GatewayError('E_NO_GENESIS', `${dataDir} holds keys (${p.keys}) but no genesis.json: ${install}; an empty data dir gets a dev chain`);
    const { genesis, meterIds } = initDevChain(dataDir, { meters: DEV_CHAIN_METERS });
    log.info({ chainId: genesis.chainId, dataDir, meters: meterIds.length }, 'initialised a dev chain');
    notice(`initialised a dev chain "${genesis.chainId}" in ${dataDir} with ${meterIds.length} meters; ` +
      `genesis at ${p.genesis}, keys in ${p.keys}`);
  }
  const genesis = loadGenesisFile(p.genesis);
  if (pin !== undefined) {
    const hash = toHex(genesisHash(genesis));
    if (hash !== pin) {
      throw new GatewayError('E_GENESIS_MISMATCH', `${p.genesis} has hash ${hash}, but genesisHash pins ${pin}: this is not the genesis that was agreed; refusing to start`);
    }
  }
  return genesis;
}

/**
 * A box that holds the chain's operator key (a dev chain: `meterledger init` or the first
 * start) gets an operator token in <dataDir>/admin.token, made once, mode 0600, used when
 * no http.adminToken is set: the portal's sign-in and the CLI need one, and it grants
 * nothing the operator key beside it does not. A box without that key gets none.
 */
export function localAdminToken(dataDir: string, log: GatewayLogger): { token: string; file: string; made: boolean } | undefined {
  if (!existsSync(dataPaths(dataDir).operatorKey)) return undefined;
  const file = join(dataDir, 'admin.token');
  let made = false;
  try {
    writeFileSync(file, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    made = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      // A read-only or full data dir: go on without one (the store says what is wrong, if anything).
      log.warn({ file, err: fsReason(e) }, 'cannot write the operator token file; POST endpoints and operator reads stay off');
      return undefined;
    }
  }
  const token = readPrivateFile(file, 'admin token (admin.token)').toString('utf8').trim();
  if (token.length < 16 || /\s/.test(token)) throw new ConfigError('http.adminTokenFile', `${file} must hold one token of at least 16 characters and no spaces`);
  return { token, file, made };
}

/**
 * Enrolment (gateway/http/enrol.ts) is on when <dataDir>/keys/operator.key is the key of
 * a genesis operator with the registrar role, as on every dev chain; `openable` names the
 * default dev chain's owner account, which its first enrolment opens.
 */
function enrolmentOf(dataDir: string, node: LedgerNode, log: GatewayLogger, openable?: string): Enrolment {
  const codes = new EnrolmentCodes(dataDir);
  const file = dataPaths(dataDir).operatorKey;
  if (!existsSync(file)) return { codes };
  const key = loadKeyFile(file);
  const id = registrarIdOf(node.genesis, key);
  if (id === undefined) return { codes };
  log.info({ registrar: id }, 'enrolment on: owners bind their browser key with a one-time code');
  return { codes, binder: registrarBinder(node, id, key, openable !== undefined ? { openable } : {}) };
}

/**
 * The default dev chain's owner account (ledger-node/billing/dev-setup.ts): until a
 * browser enrolled (which opens it with that browser's key), each start prints the enrol
 * page and a fresh one-time code (replacing the last one). Only a chain made here (its
 * dev-account.json) whose operator key is the registrar's.
 */
function devEnrolment(plan: DevAccountPlan | undefined, node: LedgerNode, enrolment: Enrolment, enrolUrl: string, notice: (line: string) => void): void {
  if (!plan || !enrolment.binder?.opens?.(plan.account) || !node.genesis.currency) return;
  if (node.billingView().tip.get(StateKind.Account, plan.account) !== undefined) return;
  const { code } = enrolment.codes.create(plan.account);
  notice(`enrol: ${enrolUrl}?account=${encodeURIComponent(plan.account)}  code: ${code}`);
}

export async function startGateway(config: GatewayConfig, opts: StartOptions): Promise<Gateway> {
  const log = opts.logger;
  const notice = opts.notice ?? ((line: string) => process.stdout.write(line + '\n'));
  const { dataDir } = config;

  const genesis = openGenesis(config, log, notice);
  const local = config.http.adminToken === undefined ? localAdminToken(config.dataDir, log) : undefined;
  const adminToken = config.http.adminToken ?? local?.token;
  if (local) {
    notice(`operator token ${local.made ? 'written to' : 'in'} ${local.file}: sign in to the portal with it; the CLI reads it with METERLEDGER_HTTP_ADMIN_TOKEN_FILE=${local.file}`);
  }
  const metrics = new GatewayMetrics({ xmpp: config.xmpp !== undefined, ...(genesis.currency ? { currency: genesis.currency.code } : {}) });
  metrics.setInfo(VERSION, genesis.chainId);

  metrics.setBacklogLimit(config.ledger.maxBacklog);
  const c = config.consensus;
  // TEST ONLY (docs/consensus.md §Test hooks): refused on any chain but a dev or testnet one.
  const proposalRewrite = byzantineBillFromEnv(genesis, process.env);
  if (proposalRewrite) log.warn({ env: BYZANTINE_BILL_ENV }, 'TEST HOOK: this validator proposes wrong bills (a Byzantine proposer); never on a real chain');
  const node = await LedgerNode.open({
    dataDir, genesis, ...config.ledger, metrics, logger: log.child({ component: 'node' }), ...(proposalRewrite ? { proposalRewrite } : {}),
    ...(config.nats ? { nats: config.nats } : {}),
    timeouts: {
      proposeBaseMs: c.proposeTimeoutMs, proposeDeltaMs: c.proposeTimeoutMs / 2,
      prevoteBaseMs: c.prevoteTimeoutMs, prevoteDeltaMs: c.prevoteTimeoutMs / 2,
      precommitBaseMs: c.precommitTimeoutMs, precommitDeltaMs: c.precommitTimeoutMs / 2,
    },
  }).catch((e: unknown) => {
    if (e instanceof ProtocolError && e.code === 'E_NO_PEERS') throw new ConfigError('nats.servers', e.message, { cause: e });
    throw e;
  });
  const tokenKeys = new KeyObjectCache();
  let broker: BrokerHandle | undefined;
  let brokerOpen = false;
  try {
    const { mqtt } = config;
    broker = await MqttBroker.start({
      intake: node.intake,
      ...(mqtt.plaintext ? { tcp: { host: mqtt.host, port: mqtt.port } } : {}),
      ...(mqtt.tls ? {
        tls: {
          host: mqtt.host, port: mqtt.tls.port,
          key: readPrivateFile(mqtt.tls.keyFile, 'MQTT TLS key (mqtt.tls.keyFile)').toString('utf8'), cert: readPem(mqtt.tls.certFile, 'mqtt.tls.certFile'),
          ...(mqtt.tls.caFile ? { ca: readPem(mqtt.tls.caFile, 'mqtt.tls.caFile') } : {}),
        },
      } : {}),
      ...(mqtt.ws ? { ws: { host: mqtt.host, port: mqtt.ws.port } } : {}),
      accounts: mqtt.accounts.map((a) => ({ ...a })),
      allowAnonymous: mqtt.allowAnonymous,
      tokenMaxAgeMs: mqtt.tokenMaxAgeMs,
      maxPayloadBytes: mqtt.maxPayloadBytes,
      maxConnectionsPerListener: mqtt.maxConnectionsPerListener,
      maxSessionsPerMeter: mqtt.maxSessionsPerMeter,
      maxQueuedMessages: mqtt.maxQueuedMessages,
      sessionExpiryMs: mqtt.sessionExpiryMs,
      fullReceipts: mqtt.fullReceipts,
      receipts: { bySeq: (meterId, seq) => node.getReceipt(meterId, seq), byTxHash: (hash) => node.getTxReceipt(hash) },
      logger: log.child({ component: 'mqtt' }),
      metrics,
      verifySignature: (alg, pk, msg, sig) => nativeVerify(alg, tokenKeys.get(alg, pk), msg, sig),
    }).catch((e: unknown) => listenError(e, 'MQTT', mqtt.host, [['mqtt.port (--mqtt-port)', mqtt.port], ['mqtt.tls.port', mqtt.tls?.port], ['mqtt.ws.port', mqtt.ws?.port]]));
    brokerOpen = true;
  } catch (e) {
    await node.close();
    throw e;
  }
  const b = broker!;

  let xmpp: XmppHandle | undefined;
  if (config.xmpp) {
    try {
      xmpp = await startXmpp(config.xmpp, node, metrics, log.child({ component: 'xmpp' }));
    } catch (e) {
      brokerOpen = false;
      await b.close();
      await node.close();
      throw e;
    }
  }
  const x = xmpp;

  // Billing before the HTTP API: its listener is then the first to hear the payments the
  // write-ahead's recovery dropped at start (the node keeps those for its first listener,
  // ledger-node/drops.ts), not a browser's live feed that connected in between.
  let billing: GatewayBilling;
  try {
    billing = await startBilling(config, node, b, metrics, log);
  } catch (e) {
    await x?.close();
    await b.close();
    await node.close();
    throw e;
  }

  const devAccount = readDevAccountPlan(dataDir);
  const enrolment = enrolmentOf(dataDir, node, log, devAccount?.account);
  let http: HttpApi;
  try {
    http = await startHttpApi({
      node,
      scrapeMetrics: () => metrics.scrape(),
      readiness: () => readinessReasons({
        node, mqttListening: brokerOpen && (b.addresses().tcp ?? b.addresses().tls) !== undefined, ...(x !== undefined ? { xmppState: x.state() } : {}),
      }),
      mqttClients: () => (brokerOpen ? b.connectedClients() : undefined),
      ...(x !== undefined ? { xmppState: () => x.state() } : {}),
      adminToken,
      eraseRecipientKey: (id) => billing?.autoIssuer?.eraseRecipient(id) ?? { held: false, dropped: 0 },
      sessions: new SessionStore({ sessionTtlMs: config.http.sessionTtlMs }),
      ...(config.http.meterSilenceMs !== undefined ? { meterSilenceMs: config.http.meterSilenceMs } : {}),
      onBillsMessage: (listener) => {
        const detachBlocks = node.onBlock((blk) => {
          for (const m of billingMessages(node.genesis, blk)) listener(m);
        });
        // A payment accepted, then made invalid by a block: its refusal, as the meter gets it.
        const detachDropped = onDroppedPayment(node, listener);
        return () => {
          detachBlocks();
          detachDropped();
        };
      },
      enrolment,
      rejectsByReason: () => metrics.rejectsByReason(),
      httpRefused: (code) => metrics.httpRefused(code),
      logger: log.child({ component: 'http' }),
    }, config.http.host, config.http.port, httpTls(config.http.tls)).catch((e: unknown) => listenError(e, 'HTTP API', config.http.host, [['http.port (--http-port)', config.http.port]]));
  } catch (e) {
    await billing.stop();
    await x?.close();
    await b.close();
    await node.close();
    throw e;
  }

  try {
    devEnrolment(devAccount, node, enrolment, `${http.url}/portal/enrol`, notice);
  } catch (e) {
    await billing.stop();
    await x?.close();
    await b.close();
    await node.close();
    await http.close();
    throw e;
  }

  const host = config.mqtt.host.includes(':') ? `[${config.mqtt.host}]` : config.mqtt.host;
  const a = b.addresses();
  const urls = {
    ...(a.tcp !== undefined ? { mqtt: `mqtt://${host}:${a.tcp}` } : {}),
    ...(a.tls !== undefined ? { mqtts: `mqtts://${host}:${a.tls}` } : {}),
    ...(a.ws !== undefined ? { ws: `ws://${host}:${a.ws}/mqtt` } : {}),
    http: http.url,
    portal: `${http.url}/portal/`,
  };
  log.info({ chainId: genesis.chainId, ...urls }, 'gateway listening');
  for (const w of plaintextWarnings(config)) {
    log.warn({ code: PLAINTEXT_WARNING, setting: w.setting, address: w.address }, `plain text beyond this machine: ${w.advice}`);
  }

  let closing: Promise<void> | undefined;
  return {
    node, billing, broker: b, xmpp: x, http, metrics, urls,
    close() {
      closing ??= (async () => {
        log.info('stopping: MQTT and XMPP first, then the node, then HTTP');
        brokerOpen = false;
        await billing.stop().catch((err: unknown) => log.error({ err }, 'stopping billing failed'));
        // Together: the bridge waits (briefly) for answers to readings under way, which need the node.
        await Promise.all([
          b.close().catch((err: unknown) => log.error({ err }, 'closing MQTT failed')),
          x?.close().catch((err: unknown) => log.error({ err }, 'closing XMPP failed')),
        ]);
        await node.close().catch((err: unknown) => log.error({ err }, 'closing the node failed'));
        await http.close();
        log.info('stopped');
      })();
      return closing;
    },
  };
}

/**
 * The signals that stop the gateway cleanly. SIGHUP is one of them: a closed terminal or
 * `kill -HUP` stops it like SIGTERM (there is no reload; restart to apply new settings).
 * Node resets an inherited "ignore" (nohup) to the default, which would kill the process
 * without a clean stop.
 */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Resolve on the first stop signal; a second one exits at once with 1. */
export function waitForSignal(log: GatewayLogger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let seen = false;
    const on = (sig: NodeJS.Signals): void => {
      if (seen) {
        log.warn({ signal: sig }, 'second signal: exiting without a clean stop');
        log.flush();
        process.exit(1);
      }
      seen = true;
      log.info({ signal: sig }, 'signal received');
      resolve(sig);
    };
    for (const sig of STOP_SIGNALS) process.on(sig, on);
  });
}
