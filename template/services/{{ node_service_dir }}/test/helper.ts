import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { type Config, loadConfig } from '../src/config.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Configuration for one test file: quiet logs, the real Redis from REDIS_URL, and a queue prefix
 * of its own so parallel runs (and your dev worker) never see each other's jobs.
 */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    LOG_LEVEL: 'silent',
    REDIS_URL,
    QUEUE_PREFIX: `test-${randomUUID()}`,
    JOB_BACKOFF_MS: '10',
    ...overrides,
  });
}

/** The configuration `npm run openapi` and the drift test generate the document with. */
export function openapiConfig(): Config {
  return loadConfig({ LOG_LEVEL: 'silent', REDIS_URL, DOCS_ENABLED: 'true' });
}

/** Fail fast, with a hint, when the tests need Redis and none is running. */
export async function requireRedis(url: string = REDIS_URL): Promise<void> {
  const { hostname, port } = new URL(url);
  await new Promise<void>((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(2000);
    const fail = () => {
      socket.destroy();
      reject(
        new Error(
          `Redis is not reachable at ${url}: start one (docker compose up -d redis) or set REDIS_URL.`,
        ),
      );
    };
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('error', fail);
    socket.once('timeout', fail);
  });
}

/** The whole app, driven with `app.inject()`, closed when the test ends. */
export async function build(
  t: TestContext,
  overrides: Record<string, string> = {},
): Promise<FastifyInstance> {
  const config = testConfig(overrides);
  if ('REDIS_URL' in config) await requireRedis(String(config.REDIS_URL));
  const app = await buildApp(config);
  t.after(() => app.close());
  return app;
}
