import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Processor, Worker } from 'bullmq';
import type { DigestJobData, DigestJobResult } from '#contracts';
import type { Config } from '../config.ts';
import { QUEUE_NAME, redisConnection } from './queue.ts';

// src/jobs/digest-processor.ts when run from source, dist/jobs/digest-processor.js when built.
export const DIGEST_PROCESSOR = new URL(
  `./digest-processor${extname(fileURLToPath(import.meta.url))}`,
  import.meta.url,
);

// The sandbox child gets only the module resolution flag (`--conditions=source` when running the
// .ts sources), not every flag of its parent: node --test hands its children flags that a forked
// child refuses, and the sandbox then never starts.
const SANDBOX_EXEC_ARGV = process.execArgv.filter((arg) => arg.startsWith('--conditions='));

export type DigestWorker = Worker<DigestJobData, DigestJobResult, 'digest'>;

/**
 * The consumer side: the sandboxed processor (or, in tests, a function), concurrency from config.
 * `maxRetriesPerRequest: null` makes the worker wait for Redis to come back instead of failing.
 */
export function createWorker(
  config: Config,
  processor: string | URL | Processor<DigestJobData, DigestJobResult, 'digest'> = DIGEST_PROCESSOR,
): DigestWorker {
  return new Worker(QUEUE_NAME, processor, {
    connection: redisConnection(config, { maxRetriesPerRequest: null }),
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    workerForkOptions: { execArgv: SANDBOX_EXEC_ARGV },
  });
}
