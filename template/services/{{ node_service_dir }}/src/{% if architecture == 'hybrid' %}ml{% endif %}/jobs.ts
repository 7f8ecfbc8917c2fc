import { type JobPublic, ML_JOB_PREFIX, type MlComponents, type MlJobCreate } from '#contracts';
import { HttpProblem } from '../errors.ts';
import { type CallContext, type MlClient, MlUnavailableError } from './client.ts';

/** An `ml-batch-predict` job to submit: the request body without the (deprecated) key in it. */
export type MlJob = Pick<MlJobCreate, 'type' | 'data'>;

/**
 * The ML service's job API has the gateway's shape (the same `JobPublic`): only the id changes,
 * to `ml:<the ML service's id>`.
 */
export function toJobPublic(job: MlComponents['schemas']['JobPublic']): JobPublic {
  return { ...job, id: `${ML_JOB_PREFIX}${job.id}` };
}

/** Submit an ML job to the ML service (Celery behind it); the same key returns the same job. */
export async function submitMlJob(
  ml: MlClient,
  context: CallContext,
  job: MlJob,
  idempotencyKey?: string,
): Promise<{ job: JobPublic; created: boolean }> {
  return ml.call(context, async (init) => {
    const { data: started, response } = await ml.api.POST('/v1/jobs', {
      ...init,
      // The key as a Structured Field String, the header's own form.
      params: {
        header: idempotencyKey === undefined ? {} : { 'Idempotency-Key': `"${idempotencyKey}"` },
      },
      body: job,
    });
    if (response.status === 409) {
      throw new HttpProblem(
        409,
        `The idempotency key "${idempotencyKey}" was already used for a different job.`,
      );
    }
    if (!started) throw new MlUnavailableError(`the ML service answered ${response.status}`);
    return { job: toJobPublic(started), created: response.status === 202 };
  });
}

/** An ML job by its gateway id (`ml:<id>`); undefined if the ML service does not know it. */
export async function readMlJob(
  ml: MlClient,
  context: CallContext,
  id: string,
): Promise<JobPublic | undefined> {
  const jobId = id.slice(ML_JOB_PREFIX.length);
  if (!/^[0-9a-f-]{36}$/.test(jobId)) return undefined;
  return ml.call(context, async (init) => {
    const { data: job, response } = await ml.api.GET('/v1/jobs/{id}', {
      ...init,
      params: { path: { id: jobId } },
    });
    if (response.status === 404) return undefined;
    if (!job) throw new MlUnavailableError(`the ML service answered ${response.status}`);
    return toJobPublic(job);
  });
}
