/**
 * Logs on stderr through pino, adapted to the Logger of ledger-node/api.ts so the node and
 * the bridges log through the same stream without importing pino. Two formats: `json`
 * (pino's lines, for collectors) and `text` (one readable line per event, for a person at
 * a terminal), written by the tiny formatter below rather than a pretty-printer package.
 */
import { writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../ledger-node/api.js';
import type { LogFormat, LogLevel } from './config.js';

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

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino's own fields, shown in the line's head or not at all. */
const HEAD = new Set(['level', 'time', 'msg', 'name', 'component', 'pid', 'hostname']);

function showField(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * One pino JSON line as text: `<ISO time> <LEVEL> [component:] message key=value ...`.
 * An `err` shows its message (and, with `stacks`, its stack on the lines below).
 */
export function formatLogLine(line: string, stacks = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString() : new Date().toISOString();
  const level = (LEVEL_NAMES[o.level as number] ?? String(o.level)).padEnd(5);
  const parts = [time, level];
  if (typeof o.component === 'string') parts.push(`${o.component}:`);
  if (typeof o.msg === 'string') parts.push(o.msg);
  let stack = '';
  for (const [k, v] of Object.entries(o)) {
    if (HEAD.has(k) || v === undefined) continue;
    if ((k === 'err' || k === 'error') && typeof v === 'object' && v !== null && 'message' in v) {
      const e = v as { message: unknown; code?: unknown; stack?: unknown };
      parts.push(`${k}=${showField(typeof e.code === 'string' ? `${e.code}: ${String(e.message)}` : e.message)}`);
      if (stacks && typeof e.stack === 'string') stack = e.stack.split('\n').slice(1).map((l) => `    ${l.trim()}\n`).join('');
      continue;
    }
    parts.push(`${k}=${showField(v)}`);
  }
  return `${parts.join(' ')}\n${stack}`;
}

/** A pino destination that writes each line, formatted, synchronously to `fd`. */
function textDestination(fd: number, stacks: boolean): DestinationStream {
  return {
    write(line: string) {
      writeSync(fd, formatLogLine(line, stacks));
    },
  };
}

/** Logger writing to `fd` (default 2, stderr) synchronously, so no line is lost at exit. */
export function createLogger(level: LogLevel, format: LogFormat = 'json', fd = 2): GatewayLogger {
  const opts = { level, base: { name: 'meterledger' } };
  const dest = format === 'text' ? textDestination(fd, level === 'debug' || level === 'trace') : pino.destination({ dest: fd, sync: true });
  return adapt(pino(opts, dest));
}
