/**
 * JSON logs on stderr (pino), adapted to the Logger of ledger-node/api.ts so the node and
 * the bridges log through the same stream without importing pino.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../ledger-node/api.js';
import type { LogLevel } from './config.js';

export interface GatewayLogger extends Logger {
  /** A logger whose lines carry `bindings` (e.g. `{component: 'http'}`). */
  child(bindings: Record<string, unknown>): GatewayLogger;
  /** Write what is buffered; call before exiting. */
  flush(): void;
}

function adapt(p: PinoLogger): GatewayLogger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (obj: object | string, msg?: string): void => {
    if (typeof obj === 'string') p[level](obj);
    else if (msg === undefined) p[level](obj);
    else p[level](obj, msg);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (bindings) => adapt(p.child(bindings)),
    flush: () => p.flush(),
  };
}

/** Logger writing JSON lines to `fd` (default 2, stderr) synchronously, so no line is lost at exit. */
export function createLogger(level: LogLevel, fd = 2): GatewayLogger {
  return adapt(pino({ level, base: { name: 'meterledger' } }, pino.destination({ dest: fd, sync: true })));
}
