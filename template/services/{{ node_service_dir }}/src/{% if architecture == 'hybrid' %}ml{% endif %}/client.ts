import createClient, { type Client } from 'openapi-fetch';
import { Agent, fetch, Request } from 'undici';
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

export function isConnectionError(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  return CONNECTION_ERRORS.has(cause?.code ?? '');
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/** What a call carries to the ML service (and its logs): the caller's request id. */
export interface CallContext {
  requestId: string;
}

export interface MlClient {
  /** The typed client (paths and bodies from the ML service's OpenAPI). */
  api: Client<MlPaths>;
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
 * openapi-fetch over undici's own fetch and a keep-alive connection pool (an Agent). undici's
 * fetch, Request and Agent come from the one package: Node's built-in fetch bundles its own copy
 * of undici, whose major version need not match the package's.
 */
export function createMlClient(config: Config): MlClient {
  const agent = new Agent({
    connections: config.ML_CONNECTIONS,
    keepAliveTimeout: 30_000,
    connectTimeout: config.ML_TIMEOUT_MS,
  });
  const api = createClient<MlPaths>({
    baseUrl: config.ML_SERVICE_URL,
    Request: Request as unknown as typeof globalThis.Request,
    fetch: (request) =>
      fetch(request as never, { dispatcher: agent }) as unknown as Promise<Response>,
  });
  const circuit = new CircuitBreaker({
    failureThreshold: config.ML_CIRCUIT_FAILURES,
    resetAfterMs: config.ML_CIRCUIT_RESET_MS,
  });

  async function attempt<T>(context: CallContext, operation: (init: CallInit) => Promise<T>) {
    for (let retry = 0; ; retry++) {
      const init = {
        headers: { 'x-request-id': context.requestId },
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
    close: () => agent.close(),
  };
}
