/**
 * Types for the parts of xmpp.js 0.14 (github:xmppjs/xmpp.js, ISC) that bridge/xmpp uses.
 * The packages ship JavaScript only; these declarations cover just what we call.
 */

declare module '@xmpp/xml' {
  type Child = Element | string;
  export class Element {
    constructor(name: string, attrs?: Record<string, string | undefined>);
    name: string;
    attrs: Record<string, string | undefined>;
    children: Child[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getNS(): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    text(): string;
    append(...nodes: Child[]): Element;
    toString(): string;
  }
  type Attrs = Record<string, string | number | undefined | null> | null;
  export function xml(name: string, attrs?: Attrs, ...children: (Child | null | undefined | false)[]): Element;
  export default xml;
}

declare module '@xmpp/jid' {
  export class JID {
    bare(): JID;
    getLocal(): string;
    getDomain(): string;
    getResource(): string;
    equals(o: JID): boolean;
    toString(): string;
  }
  export function jid(address: string): JID;
  export function jid(local: string | null, domain: string, resource?: string): JID;
  export default jid;
}

declare module '@xmpp/client-core' {
  import type { EventEmitter } from 'node:events';
  import type { Element } from '@xmpp/xml';
  import type { JID } from '@xmpp/jid';
  export { xml } from '@xmpp/xml';
  export { jid } from '@xmpp/jid';
  export interface ClientOptions { service: string; domain: string; lang?: string; timeout?: number }
  export class Client extends EventEmitter {
    constructor(options: ClientOptions);
    status: string;
    jid: JID | null;
    options: ClientOptions;
    socket: unknown;
    timeout: number;
    transports: unknown[];
    start(): Promise<JID>;
    stop(): Promise<unknown>;
    disconnect(): Promise<unknown>;
    connect(service: string): Promise<void>;
    open(o: { domain: string; lang?: string }): Promise<unknown>;
    restart(): Promise<unknown>;
    send(el: Element): Promise<void>;
    sendMany(els: Element[]): Promise<void>;
    sendReceive(el: Element, timeoutMs?: number): Promise<Element>;
    isSecure(): boolean;
    _attachSocket(socket: unknown): void;
    socketParameters(service: string): object | undefined;
  }
}

declare module '@xmpp/tcp' {
  export default function tcp(o: { entity: unknown }): void;
}
declare module '@xmpp/tls' {
  export default function tls(o: { entity: unknown }): void;
}

declare module '@xmpp/middleware' {
  import type { Element } from '@xmpp/xml';
  import type { Client } from '@xmpp/client-core';
  export interface Context { stanza: Element; entity: Client; name: string; type?: string; id?: string; from?: unknown; to?: unknown; element?: Element }
  export type Handler = (ctx: Context, next: () => Promise<unknown>) => unknown;
  export interface Middleware { use(fn: Handler): Handler; filter(fn: Handler): Handler }
  export default function middleware(o: { entity: Client }): Middleware;
}

declare module '@xmpp/stream-features' {
  import type { Element } from '@xmpp/xml';
  import type { Context, Middleware } from '@xmpp/middleware';
  export interface StreamFeatures {
    use(name: string, xmlns: string, handler: (ctx: Context, next: () => Promise<unknown>, feature: Element) => unknown): void;
  }
  export default function streamFeatures(o: { middleware: Middleware }): StreamFeatures;
}

declare module '@xmpp/iq/caller.js' {
  import type { Element } from '@xmpp/xml';
  import type { Client } from '@xmpp/client-core';
  import type { Middleware } from '@xmpp/middleware';
  export interface IqCaller {
    request(stanza: Element, timeoutMs?: number): Promise<Element>;
    get(el: Element, to?: string, timeoutMs?: number): Promise<Element | undefined>;
    set(el: Element, to?: string, timeoutMs?: number): Promise<Element | undefined>;
  }
  export default function iqCaller(o: { middleware: Middleware; entity: Client }): IqCaller;
}

declare module '@xmpp/iq/callee.js' {
  import type { Element } from '@xmpp/xml';
  import type { Client } from '@xmpp/client-core';
  import type { Context, Middleware } from '@xmpp/middleware';
  type H = (ctx: Context, next: () => Promise<unknown>) => Element | object | undefined | Promise<Element | object | undefined>;
  export interface IqCallee { get(ns: string, name: string, h: H): void; set(ns: string, name: string, h: H): void }
  export default function iqCallee(o: { middleware: Middleware; entity: Client }): IqCallee;
}

declare module '@xmpp/starttls/starttls.js' {
  export function canUpgrade(socket: unknown): boolean;
  export function upgrade(socket: unknown, options: import('node:tls').ConnectionOptions): Promise<unknown>;
}

declare module '@xmpp/sasl' {
  import type { StreamFeatures } from '@xmpp/stream-features';
  import type { Client } from '@xmpp/client-core';
  type Authenticate = (credentials: { username: string; password: string }, mechanism: string) => Promise<void>;
  export default function sasl(
    o: { streamFeatures: StreamFeatures; saslFactory: unknown },
    onAuthenticate: (authenticate: Authenticate, mechanisms: string[], fast: unknown, entity: Client) => Promise<void>,
  ): void;
}

declare module '@xmpp/resource-binding' {
  import type { StreamFeatures } from '@xmpp/stream-features';
  import type { IqCaller } from '@xmpp/iq/caller.js';
  export default function resourceBinding(o: { iqCaller: IqCaller; streamFeatures: StreamFeatures }, resource?: string): void;
}

declare module '@xmpp/sasl-scram-sha-1' {
  export default function scramSha1(factory: unknown): void;
}
declare module '@xmpp/sasl-plain' {
  export default function plain(factory: unknown): void;
}
declare module 'saslmechanisms' {
  export default class SASLFactory {
    use(mech: unknown): this;
  }
}
declare module '@xmpp/id' {
  export default function id(): string;
}
