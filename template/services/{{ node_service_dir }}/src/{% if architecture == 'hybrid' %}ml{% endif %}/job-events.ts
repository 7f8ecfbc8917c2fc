import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobEvent, JobPublic } from '#contracts';
import { HttpProblem } from '../errors.ts';
import { callContext, unlessMlIsDown } from '../plugins/app/ml-service.ts';
import { type MlClient, MlUnavailableError } from './client.ts';
import { readMlJob } from './jobs.ts';

// As often as the ML service's own SSE endpoint reads Celery's result backend: polling faster would
// only read the same state again.
export const ML_JOB_POLL_MS = 500;
const HEARTBEAT_MS = 15_000;

/** The events that take a client from `previous` (what it has seen) to `job`. */
export function mlJobEvents(job: JobPublic, previous?: JobPublic): JobEvent[] {
  const events: JobEvent[] = [];
  if (job.progress !== previous?.progress) {
    events.push({ event: 'progress', jobId: job.id, progress: job.progress });
  }
  if (job.state === 'completed' && job.result) {
    events.push({ event: 'completed', jobId: job.id, result: job.result });
  } else if (job.state === 'failed') {
    events.push({ event: 'failed', jobId: job.id, failedReason: job.failedReason ?? 'failed' });
  }
  return events;
}

export interface MlJobStream {
  ml: MlClient;
  request: FastifyRequest;
  reply: FastifyReply;
  id: string;
  /** Open streams, ended before the server closes (or it would wait for them). */
  streams: Set<() => void>;
}

/**
 * GET /v1/jobs/ml:<id>/events: the ML job's progress and outcome as Server-Sent Events, in the
 * gateway's own job event format. The gateway polls the ML service's job API through the pooled
 * client rather than holding its SSE stream open: each poll gets the client's timeout, retry and
 * circuit, and a stream open for minutes holds no upstream connection. Polling stops as soon as
 * the client goes away.
 */
export async function streamMlJob({ ml, request, reply, id, streams }: MlJobStream): Promise<void> {
  // Before the stream starts, an unknown job is a 404 and a down ML service a 503, as on GET.
  const first = await readMlJob(ml, callContext(request), id).catch(unlessMlIsDown);
  if (!first) throw new HttpProblem(404, `Job ${id} does not exist.`);

  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
  });

  const stopped = new AbortController();
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const end = () => {
    clearInterval(heartbeat);
    streams.delete(end);
    stopped.abort();
    if (!raw.writableEnded) raw.end();
  };
  streams.add(end);
  raw.on('close', end);

  try {
    let previous: JobPublic | undefined;
    let job: JobPublic | undefined = first;
    while (job && !stopped.signal.aborted) {
      for (const event of mlJobEvents(job, previous)) {
        raw.write(`event: ${event.event}\ndata: ${JSON.stringify(event)}\n\n`);
      }
      if (job.state === 'completed' || job.state === 'failed') break;
      previous = job;
      await sleep(ML_JOB_POLL_MS, undefined, { signal: stopped.signal }).catch(() => undefined);
      if (stopped.signal.aborted) break;
      // While the ML service is down the stream stays open (the circuit makes each poll cheap)
      // and resumes when it is back; a job it no longer knows ends the stream.
      job = await readMlJob(ml, callContext(request), id).catch((error: unknown) => {
        if (!(error instanceof MlUnavailableError)) throw error;
        request.log.warn({ err: error }, 'ML job poll failed; retrying');
        return previous;
      });
    }
  } catch (error) {
    request.log.error({ err: error }, 'ML job stream failed');
  } finally {
    end();
  }
}
