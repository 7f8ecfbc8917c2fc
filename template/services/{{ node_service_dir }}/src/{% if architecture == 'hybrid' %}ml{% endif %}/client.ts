import createClient, { type Client } from 'openapi-fetch';
import { fetch, Pool, Request } from 'undici';
import type { MlPaths } from '#contracts';
import type { Config } from '../config.ts';
import { CircuitBreaker, CircuitOpenError } from './circuit-breaker.ts';

/** The ML service cannot answer now (down, circuit open, timed out): the gateway answers 503. */
export class MlUnavailableError extends Error {
  override name = 'MlUnavailableError';
}

// Errors from the socket, before any response: safe to retry, the request never reached the app.
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The error's code: its own (undici's request API) or its cause's (fetch's `fetch failed`). */
function errorCode(error: unknown): string {
  if (!(error instanceof Error)) return '';
  const { code } = error as { code?: unknown };
  if (typeof code === 'string') return code;
  return (error.cause as { code?: string } | undefined)?.code ?? '';
}

export function isConnectionError(error: unknown): boolean {
  return CONNECTION_ERRORS.has(errorCode(error));
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'TimeoutError' ||
      error.name === 'AbortError' ||
      errorCode(error) === 'UND_ERR_ABORTED')
  );
}

/**
 * What a call carries to the ML service (and its logs): the caller's request id and, when the
 * gateway authenticated the caller, its subject (header X-Enduser-Id).
 */
export interface CallContext {
  requestId: string;
  enduserId?: string | undefined;
}

/** The JSON body of an answer of the ML service, typed from its OpenAPI document. */
export type MlJson<
  Path extends keyof MlPaths,
  Method extends 'get' | 'post',
  Status extends number,
> = MlPaths[Path][Method] extends {
  responses: { [S in Status]: { content: { 'application/json': infer Body } } };
}
  ? Body
  : never;

/** What `MlClient.send` answers: the status, and the parsed JSON body when it is 2xx. */
export interface MlAnswer<T> {
  status: number;
  data: T | undefined;
}

export interface MlClient {
  /** The typed client (paths and bodies from the ML service's OpenAPI). */
  api: Client<MlPaths>;
  /**
   * One request with undici's request API on the same connection pool, for the hot paths: no
   * WHATWG Request, Response or stream objects (half the gateway's time per prediction with
   * fetch + openapi-fetch; docs/benchmarks.md of the template repository). `body` is sent as
   * JSON; a 2xx answer's body is parsed as JSON, any other is drained.
   */
  send<T>(
    method: 'GET' | 'POST',
    path: keyof MlPaths,
    init: CallInit & { body?: unknown },
  ): Promise<MlAnswer<T>>;
  /** Run one ML call with timeout, retry on connection errors, and the circuit breaker. */
  call<T>(context: CallContext, operation: (init: CallInit) => Promise<T>): Promise<T>;
  circuit: CircuitBreaker;
  close(): Promise<void>;
}

// A type, not an interface: openapi-fetch's options take it as a record.
export type CallInit = {
  headers: Record<string, string>;
  signal: AbortSignal;
};

/**
 * One keep-alive connection pool to the ML service (undici's Pool), used by `send` (undici's
 * request API) and by openapi-fetch over undici's own fetch. undici's fetch, Request and Pool
 * come from the one package: Node's built-in fetch bundles its own copy of undici, whose major
 * version need not match the package's.
 */
export function createMlClient(config: Config): MlClient {
  const base = new URL(config.ML_SERVICE_URL);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connections: config.ML_CONNECTIONS,
    keepAliveTimeout: 30_000,
    connect: { timeout: config.ML_TIMEOUT_MS },
  });
  const api = createClient<MlPaths>({
    baseUrl: config.ML_SERVICE_URL,
    Request: Request as unknown as typeof globalThis.Request,
    fetch: (request) =>
      fetch(request as never, { dispatcher: pool }) as unknown as Promise<Response>,
  });

  async function send<T>(
    method: 'GET' | 'POST',
    path: keyof MlPaths,
    { body, headers, signal }: CallInit & { body?: unknown },
  ): Promise<MlAnswer<T>> {
    const answer = await pool.request({
      method,
      path: prefix + path,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (answer.statusCode < 200 || answer.statusCode >= 300) {
      await answer.body.dump();
      return { status: answer.statusCode, data: undefined };
    }
    return { status: answer.statusCode, data: (await answer.body.json()) as T };
  }
  const circuit = new CircuitBreaker({
    failureThreshold: config.ML_CIRCUIT_FAILURES,
    resetAfterMs: config.ML_CIRCUIT_RESET_MS,
  });

  async function attempt<T>(context: CallContext, operation: (init: CallInit) => Promise<T>) {
    for (let retry = 0; ; retry++) {
      const init = {
        headers: {
          'x-request-id': context.requestId,
          ...(context.enduserId === undefined ? {} : { 'x-enduser-id': context.enduserId }),
        },
        signal: AbortSignal.timeout(config.ML_TIMEOUT_MS),
      };
      try {
        return await operation(init);
      } catch (error) {
        // Only a request that never reached the service is retried: others may have had effects.
        if (!isConnectionError(error) || retry >= config.ML_RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** retry));
      }
    }
  }

  return {
    api,
    send,
    circuit,
    async call(context, operation) {
      try {
        return await circuit.run(
          () => attempt(context, operation),
          (error) =>
            isConnectionError(error) || isTimeout(error) || error instanceof MlUnavailableError,
        );
      } catch (error) {
        if (error instanceof CircuitOpenError) {
          throw new MlUnavailableError('the ML service is unavailable (circuit open)', {
            cause: error,
          });
        }
        if (isConnectionError(error) || isTimeout(error)) {
          throw new MlUnavailableError('the ML service did not answer', { cause: error });
        }
        throw error;
      }
    },
    close: () => pool.close(),
  };
}
