import { createHash } from 'node:crypto';
import { Queue, type RedisOptions } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import type { DigestJobData, DigestJobResult } from '#contracts';
import type { Config } from '../config.ts';

/** The one queue of this service; each job kind is a job name on it (see digest-processor.ts). */
export const QUEUE_NAME = 'digest';

export type DigestQueue = Queue<DigestJobData, DigestJobResult, 'digest'>;

/**
 * The job id for a client's idempotency key: `key-` and the key's SHA-256 in hex. A key never
 * becomes a job id itself, which BullMQ refuses when it looks like an integer ("42", "-5") and
 * which would share Redis key names with BullMQ's own when it holds ":". The prefix keeps these
 * ids apart from the random UUIDs of jobs without a key (and from the gateway's `ml:` ids).
 */
export function jobIdForKey(idempotencyKey: string): string {
  return `key-${createHash('sha256').update(idempotencyKey, 'utf8').digest('hex')}`;
}

/**
 * BullMQ's OpenTelemetry support for the queue and its workers: a job's trace continues from the
 * request that queued it into the worker that runs it, and the workers record bullmq.job.duration
 * and bullmq.jobs.completed / bullmq.jobs.failed. Without an SDK (src/telemetry.ts) it is a no-op.
 */
export function queueTelemetry() {
  return new BullMQOtel({ tracerName: QUEUE_NAME, meterName: QUEUE_NAME, enableMetrics: true });
}

export function redisConnection(config: Config, overrides: RedisOptions = {}) {
  return { url: config.REDIS_URL, ...overrides };
}

/**
 * The producer side. Retries, backoff and retention are set here, per job, because BullMQ reads
 * them from the job, not from the worker. The failed set is the dead-letter record: it is kept
 * (bounded by JOBS_KEEP_FAILED) so failures can be inspected and retried.
 */
export function createQueue(config: Config, overrides: RedisOptions = {}): DigestQueue {
  return new Queue(QUEUE_NAME, {
    connection: redisConnection(config, overrides),
    prefix: config.QUEUE_PREFIX,
    telemetry: queueTelemetry(),
    defaultJobOptions: {
      attempts: config.JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
      removeOnComplete: { count: config.JOBS_KEEP_COMPLETED },
      removeOnFail: { count: config.JOBS_KEEP_FAILED },
    },
  });
}
