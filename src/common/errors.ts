/** The contract's stable error codes (DESIGN.md "Errors") and their HTTP statuses. */
export const ERROR_STATUS = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** A failure the client caused or must know about; maps 1:1 to the contract's error shape. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);
export const forbidden = (message = 'not allowed'): AppError => new AppError('forbidden', message);
export const unauthorized = (message = 'authentication required'): AppError =>
  new AppError('unauthorized', message);

const STATUS_CODE = new Map<number, ErrorCode>(
  (Object.keys(ERROR_STATUS) as ErrorCode[]).map((code) => [ERROR_STATUS[code], code]),
);

/** Best contract code for an HTTP status coming from the framework (404 route, 413 body, ...). */
export function codeForStatus(status: number): ErrorCode {
  const known = STATUS_CODE.get(status);
  if (known) return known;
  if (status === 405 || status === 415 || status === 422 || (status >= 400 && status < 500)) {
    return 'validation_failed';
  }
  return status === 503 ? 'unavailable' : 'internal';
}

/** PostgreSQL error codes we turn into contract errors. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';
export const PG_CHECK_VIOLATION = '23514';
export const PG_INVALID_TEXT = '22P02';
/** Malformed literal, out-of-range number, NUL in text, bad Unicode escape in jsonb. */
const PG_BAD_INPUT = new Set([PG_CHECK_VIOLATION, PG_INVALID_TEXT, '22003', '22021', '22P05']);

export function pgErrorCode(error: unknown): string | undefined {
  const code =
    (error as { code?: unknown; driverError?: { code?: unknown } } | null)?.driverError?.code ??
    (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function pgConstraint(error: unknown): string | undefined {
  const err = error as { constraint?: unknown; driverError?: { constraint?: unknown } } | null;
  const constraint = err?.driverError?.constraint ?? err?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}

/** True when the error means the database could not be reached or the pool is exhausted. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = pgErrorCode(error);
  if (
    code &&
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'ENOTFOUND',
      // A Unix socket whose server is gone (the socket file went with it).
      'ENOENT',
      '57P01',
      '57P02',
      '57P03',
      '53300',
      '08006',
      '08001',
      '08003',
    ].includes(code)
  ) {
    return true;
  }
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connect (ECONNREFUSED|ENOENT)|timeout exceeded when trying to connect|Query read timeout|Connection refused|the database system is (starting|shutting) up/i.test(
    message,
  );
}

/**
 * Database failures that are not bugs: a violated CHECK or malformed literal is bad input (the
 * database is the last line of validation), an unreachable server is `unavailable`.
 */
export function classifyDatabaseError(error: unknown): ErrorBody | undefined {
  const code = pgErrorCode(error);
  if (code && PG_BAD_INPUT.has(code)) {
    return { code: 'validation_failed', message: 'input violates a constraint' };
  }
  if (isDatabaseUnavailable(error))
    return { code: 'unavailable', message: 'database unavailable, retry later' };
  return undefined;
}
