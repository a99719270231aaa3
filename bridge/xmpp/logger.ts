/** The logger the XMPP bridge writes to: a pino-compatible subset, with a silent default. */

export interface XmppLogger {
  debug(o: object | string, m?: string): void;
  info(o: object | string, m?: string): void;
  warn(o: object | string, m?: string): void;
  error(o: object | string, m?: string): void;
}

const noop = (): void => undefined;

export const silentXmppLogger: XmppLogger = { debug: noop, info: noop, warn: noop, error: noop };
