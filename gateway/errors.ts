/**
 * Errors of the gateway (config, CLI, lifecycle). Each carries a stable code; the CLI prints
 * `error: <CODE>: <message>` from it. HTTP errors live in ./http/errors.ts.
 */
import type { Code } from '../protocols/codes.js';
import { CodedError } from '../protocols/errors.js';
import { fsCodeOf } from '../ledger-node/fs-errors.js';

export class GatewayError extends CodedError {
  override readonly name: string = 'GatewayError';
  constructor(
    code: Code,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(code, detail, options);
  }
}

/** A bad configuration value; `field` is its dotted path (`mqtt.port`). */
export class ConfigError extends GatewayError {
  override readonly name = 'ConfigError';
  constructor(
    readonly field: string,
    why: string,
    options?: { cause?: unknown },
  ) {
    super('E_CONFIG_INVALID', `${field}: ${why}`, options);
  }
}

/** Wrong command line: unknown command or flag, missing argument. The CLI exits 2. */
export class UsageError extends GatewayError {
  override readonly name = 'UsageError';
  constructor(detail: string) {
    super('E_USAGE', detail);
  }
}

/** The code and the message, for any thrown value. */
export function describeError(e: unknown): { code: string; message: string } {
  if (e instanceof GatewayError) return { code: e.code, message: e.detail };
  if (e instanceof Error) {
    const raw = (e as { code?: unknown }).code;
    const code = typeof raw === 'string' && /^E_[A-Z0-9_]+$/.test(raw) ? raw : undefined;
    if (code) return { code, message: e.message };
    // Node system errors: a file-system one by its cause (E_FS_READ_ONLY for EROFS ...), others E_IO.
    if (typeof raw === 'string' && /^E[A-Z]+$/.test(raw)) return { code: fsCodeOf(e) ?? 'E_IO', message: e.message };
    return { code: 'E_INTERNAL', message: e.message };
  }
  return { code: 'E_INTERNAL', message: String(e) };
}
