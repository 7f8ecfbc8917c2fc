import { Kysely, PostgresDialect } from 'kysely';
import { Pool } from 'pg';
import type { Config } from '../config.ts';
import type { Database } from './schema.ts';

/**
 * A query builder on a pool of DATABASE_POOL_MAX connections, opened on first use. `destroy()` it
 * to close the pool. `onIdleError` hears about connections that break while idle (a database
 * restart): pg reports them as an 'error' event, which would otherwise crash the process.
 */
export function connectDatabase(
  config: Config,
  onIdleError: (error: Error) => void,
): Kysely<Database> {
  const pool = new Pool({
    connectionString: config.DATABASE_URL,
    max: config.DATABASE_POOL_MAX,
    connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
    statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
  });
  pool.on('error', onIdleError);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
