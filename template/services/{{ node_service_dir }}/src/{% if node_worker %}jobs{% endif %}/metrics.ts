// Queue and job metrics beside the ones BullMQ's telemetry records itself (bullmq.job.duration,
// bullmq.jobs.completed / bullmq.jobs.failed): the queue depth, read when metrics are collected,
// and the semantic conventions' messaging.process.duration, which the Celery worker of a hybrid
// project records too. Without an SDK (src/telemetry.ts) the meter is a no-op and nothing runs.
import { metrics, type ObservableResult } from '@opentelemetry/api';
import { type Job, MetricNames, type Queue, TelemetryAttributes, type Worker } from 'bullmq';

const meter = metrics.getMeter('jobs');

/** The states that make up the queue's depth: jobs waiting, running, or waiting to be retried. */
const DEPTH_STATES = ['waiting', 'active', 'delayed'] as const;

/**
 * Observe `queue`'s job counts as BullMQ's own `bullmq.queue.jobs` gauge ({jobs}, attributes
 * `bullmq.queue.name` and `bullmq.queue.jobs.state`: waiting, active, delayed), read from Redis
 * each time metrics are collected (every OTEL_METRIC_EXPORT_INTERVAL, or on each Prometheus
 * scrape). Called by the process that feeds the queue (the API), which runs even when the workers
 * are scaled to zero. A closing queue, or an unreachable Redis, reports nothing.
 */
export function observeQueueDepth(queue: Queue): void {
  const gauge = meter.createObservableGauge(MetricNames.QueueJobsCount, {
    description: 'Number of jobs in the queue by state',
    unit: '{jobs}',
  });
  gauge.addCallback(async (result: ObservableResult) => {
    if (queue.closing) return;
    const counts = await queue.getJobCounts(...DEPTH_STATES).catch(() => undefined);
    for (const [state, count] of Object.entries(counts ?? {})) {
      result.observe(count, {
        [TelemetryAttributes.QueueName]: queue.name,
        [TelemetryAttributes.QueueJobsState]: state,
      });
    }
  });
}

/**
 * Record `messaging.process.duration` (s) for each job attempt the worker finishes: from the
 * moment it started to the moment it completed or failed, with `messaging.system` (bullmq),
 * `messaging.operation.name` (process), `messaging.destination.name` (the queue) and, for an
 * attempt that failed, `error.type` (the error's name). A failed attempt that BullMQ retries
 * counts as one failed operation.
 * @see https://opentelemetry.io/docs/specs/semconv/messaging/messaging-metrics/
 */
export function recordJobDurations<Data, Result, Name extends string>(
  worker: Worker<Data, Result, Name>,
): void {
  const duration = meter.createHistogram('messaging.process.duration', {
    description: 'Duration of processing operation.',
    unit: 's',
  });
  const record = (job: Job<Data, Result, Name> | undefined, error?: Error) => {
    if (!job?.processedOn) return;
    // A failed attempt that will be retried has no finishedOn: it ends now.
    duration.record(((job.finishedOn ?? Date.now()) - job.processedOn) / 1000, {
      'messaging.system': 'bullmq',
      'messaging.operation.name': 'process',
      'messaging.destination.name': worker.name,
      ...(error ? { 'error.type': error.name || 'Error' } : {}),
    });
  };
  worker.on('completed', (job) => record(job));
  worker.on('failed', (job, error) => record(job, error));
}
