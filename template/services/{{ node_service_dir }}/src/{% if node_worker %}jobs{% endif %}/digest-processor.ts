// The sandboxed processor of the digest queue: BullMQ runs this file in a child process, so the
// CPU-bound hashing never blocks the worker's event loop (lock renewals, other jobs, shutdown),
// and a crash here fails the job instead of killing the worker.
import { type SandboxedJob, UnrecoverableError } from 'bullmq';
import { DigestJobData, type DigestJobResult } from '#contracts';
import { computeDigest } from './digest.ts';

export default async function processDigest(job: SandboxedJob): Promise<DigestJobResult> {
  // Type the payload at the boundary; a payload that can never succeed is not retried.
  const parsed = DigestJobData.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(`Invalid ${job.name} payload: ${parsed.error.message}`);
  }
  return computeDigest(parsed.data, (percent) => job.updateProgress(percent));
}
