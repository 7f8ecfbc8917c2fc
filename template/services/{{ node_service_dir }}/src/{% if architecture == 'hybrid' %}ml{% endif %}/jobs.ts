import { randomUUID } from 'node:crypto';
import {
  type JobState,
  ML_JOB_PREFIX,
  type MlComponents,
  type MlJobCreate,
  type MlJobPublic,
} from '#contracts';
import { HttpProblem } from '../errors.ts';
import { type CallContext, type MlClient, MlUnavailableError } from './client.ts';

type MlJob = MlComponents['schemas']['JobPublic'];

// The ML service's job statuses in the gateway's (BullMQ's) terms.
const STATE: Record<MlJob['status'], JobState> = {
  queued: 'waiting',
  running: 'active',
  retrying: 'delayed',
  succeeded: 'completed',
  failed: 'failed',
};

export function toMlJobPublic(job: MlJob): MlJobPublic {
  const done = job.progress ? job.progress.done / Math.max(job.progress.total, 1) : 0;
  return {
    id: `${ML_JOB_PREFIX}${job.id}`,
    type: 'ml-batch-predict',
    state: STATE[job.status],
    progress: job.status === 'succeeded' ? 100 : Math.floor(done * 100),
    ...(job.result ? { result: job.result } : {}),
    ...(job.error ? { failedReason: job.error } : {}),
  };
}

/** Submit an ML job to the ML service (Celery behind it); the same key returns the same job. */
export async function submitMlJob(
  ml: MlClient,
  context: CallContext,
  { data, idempotencyKey }: MlJobCreate,
): Promise<{ job: MlJobPublic; created: boolean }> {
  // The ML service wants keys of 8+ characters; the prefix also keeps them apart from its others.
  const key = `gateway-${idempotencyKey ?? randomUUID()}`;
  return ml.call(context, async (init) => {
    const { data: job, response } = await ml.api.POST('/v1/jobs', {
      ...init,
      params: { header: { 'idempotency-key': key } },
      body: data,
    });
    if (response.status === 409) {
      throw new HttpProblem(
        409,
        `The idempotency key "${idempotencyKey}" was already used for a different job.`,
      );
    }
    if (!job) throw new MlUnavailableError(`the ML service answered ${response.status}`);
    return { job: toMlJobPublic(job), created: response.status === 202 };
  });
}

/** An ML job by its gateway id (`ml:<id>`); undefined if the ML service does not know it. */
export async function readMlJob(
  ml: MlClient,
  context: CallContext,
  id: string,
): Promise<MlJobPublic | undefined> {
  const jobId = id.slice(ML_JOB_PREFIX.length);
  if (!/^[0-9a-f-]{36}$/.test(jobId)) return undefined;
  return ml.call(context, async (init) => {
    const { data: job, response } = await ml.api.GET('/v1/jobs/{job_id}', {
      ...init,
      params: { path: { job_id: jobId } },
    });
    if (response.status === 404) return undefined;
    if (!job) throw new MlUnavailableError(`the ML service answered ${response.status}`);
    return toMlJobPublic(job);
  });
}
