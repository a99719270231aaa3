/**
 * The request pipeline without a socket: a route table, a matcher and the types handlers
 * share. server.ts adapts node:http to it.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { LedgerApi, Logger } from '../../ledger-node/api.js';
import type { Code } from '../../protocols/codes.js';
import type { BillsTopicMessage } from '../../protocols/index.js';
import { HttpError, badParam } from './errors.js';
import type { RequestLimits } from './limits.js';
import type { SessionStore } from './sessions.js';
import type { Enrolment } from './enrol.js';

/** What handlers may use; gateway.ts fills it in. */
export interface HttpContext {
  readonly node: LedgerApi;
  /** Prometheus text exposition. */
  scrapeMetrics(): Promise<{ contentType: string; body: string }>;
  /** Why the gateway is not ready; empty when it is. */
  readiness(): string[];
  /** Connected MQTT clients, when a broker runs. */
  mqttClients(): number | undefined;
  /** State of the XMPP bridge (`online`, `connecting`, `offline`); absent when XMPP is not configured. */
  xmppState?(): string;
  /** Bearer token for the admin endpoints (POST, the fleet view); undefined disables them. */
  readonly adminToken: string | undefined;
  /** Owner sessions and their challenges (./sessions.ts); startHttpApi makes one when none is given. */
  readonly sessions: SessionStore;
  /** Enrolment codes and the registrar's key binding (./enrol.ts); absent: enrolment is off. */
  readonly enrolment?: Enrolment;
  /** Per-source and per-account limits of the unauthenticated POSTs (./limits.ts). */
  readonly limits: RequestLimits;
  /** Told of each committed bill and payment outcome (the bills topic's messages, docs/protocol.md §8.7); absent: none. Returns an unsubscribe. */
  onBillsMessage?(listener: (m: BillsTopicMessage) => void): () => void;
  /** A meter is silent when its newest reading is this old (http.meterSilenceMs); absent: three times its usual interval (./silence.ts). */
  readonly meterSilenceMs?: number;
  /** Readings refused so far, by reason code (the meterledger_readings_rejected_total counter). */
  rejectsByReason?(): Promise<Record<string, number>>;
  /** Erase the biller's recipient key of this id from the running billing (docs/protocol.md §11.8); absent: no billing. */
  eraseRecipientKey?(id: string): { held: boolean; dropped: number };
  /** Counts an error reply by its code (the meterledger_http_refusals_total counter). */
  httpRefused?(code: Code): void;
  readonly logger: Logger;
}

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The peer's address (for per-source limits); '' when unknown. */
  readonly remote: string;
  /** The body, at most the server's limit (else 413). */
  body(): Promise<Uint8Array>;
}

export type HttpReply =
  | { readonly status: number; readonly json: unknown; readonly headers?: Record<string, string> }
  | { readonly status: number; readonly body: Uint8Array | string; readonly contentType: string; readonly headers?: Record<string, string> }
  | { readonly status: number; readonly stream: StreamWriter; readonly contentType: string; readonly headers?: Record<string, string> };

/**
 * A long-lived answer (server-sent events): called once the head is written, it writes to
 * `res` until it ends it, and returns what to run when the connection goes either way.
 */
export type StreamWriter = (res: ServerResponse) => () => void;

export type Handler = (req: HttpRequest, ctx: HttpContext) => Promise<HttpReply>;

export interface Route {
  readonly method: 'GET' | 'POST';
  /** Path with `:name` segments, e.g. `/api/v1/blocks/:height/raw`. */
  readonly path: string;
  readonly handler: Handler;
}

interface Compiled extends Route {
  readonly re: RegExp;
  readonly names: string[];
}

export class Router {
  private readonly routes: Compiled[];
  constructor(routes: readonly Route[]) {
    this.routes = routes.map((r) => {
      const names: string[] = [];
      const src = r.path.split('/').map((seg) => {
        if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(seg.slice(1));
        return '([^/]+)';
      }).join('/');
      return { ...r, re: new RegExp(`^${src}$`), names };
    });
  }

  /** The handler and path params for a request; throws 404 or 405 (with Allow). */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } {
    const allowed: string[] = [];
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) {
        allowed.push(r.method);
        continue;
      }
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]!);
        } catch {
          throw badParam(n, 'is not valid percent-encoding');
        }
      });
      return { handler: r.handler, params };
    }
    if (allowed.length > 0) throw new HttpError('E_HTTP_METHOD_NOT_ALLOWED', `use ${allowed.join(' or ')} on ${path}`, { allow: allowed.join(', ') });
    throw new HttpError('E_HTTP_NOT_FOUND', `no route for ${method} ${path}`);
  }
}
