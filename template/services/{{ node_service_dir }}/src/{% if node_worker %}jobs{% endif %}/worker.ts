import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Processor, Worker } from 'bullmq';
import type { DigestJobData, DigestJobResult } from '#contracts';
import type { Config } from '../config.ts';
import { QUEUE_NAME, queueTelemetry, redisConnection } from './queue.ts';

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
 *
 * A worker holds a lock on each active job and renews it every JOB_LOCK_MS / 2. When a worker dies
 * (SIGKILL, OOM, lost machine), its locks expire and the stalled-job check of any live worker, run
 * every JOB_LOCK_MS, puts the job back in the queue: it runs again, so jobs must be idempotent. A
 * job that stalls a second time (`maxStalledCount`) fails instead: it may be what kills workers.
 * A shorter JOB_LOCK_MS recovers sooner; the sandbox keeps the worker's event loop free, so a
 * long CPU-bound job never delays a renewal and is never taken for stalled.
 */
export function createWorker(
  config: Config,
  processor: string | URL | Processor<DigestJobData, DigestJobResult, 'digest'> = DIGEST_PROCESSOR,
): DigestWorker {
  return new Worker(QUEUE_NAME, processor, {
    connection: redisConnection(config, { maxRetriesPerRequest: null }),
    prefix: config.QUEUE_PREFIX,
    telemetry: queueTelemetry(),
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.JOB_LOCK_MS,
    stalledInterval: config.JOB_LOCK_MS,
    maxStalledCount: 1,
    workerForkOptions: { execArgv: SANDBOX_EXEC_ARGV },
  });
}
