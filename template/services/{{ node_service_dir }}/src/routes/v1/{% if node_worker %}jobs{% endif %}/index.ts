import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { JobCreate, JobParams, JobPublic, Problem } from '#contracts';
import { HttpProblem } from '../../../errors.ts';

const jobsRoutes: FastifyPluginAsyncZod = async (fastify) => {
  fastify.post(
    '/',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Start a job (idempotent when an idempotencyKey is given)',
        description:
          '202 with the new job; 200 with the existing one when the idempotencyKey was used before.',
        body: JobCreate,
        response: { 200: JobPublic, 202: JobPublic, 400: Problem, 413: Problem, 503: Problem },
      },
    },
    async (request, reply) => {
      const { job, created } = await fastify.jobQueue.enqueue(request.body);
      return reply
        .code(created ? 202 : 200)
        .header('location', `/v1/jobs/${job.id}`)
        .send(job);
    },
  );

  fastify.get(
    '/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Read a job: state, progress, result or failure reason',
        params: JobParams,
        response: { 200: JobPublic, 404: Problem, 503: Problem },
      },
    },
    async (request) => {
      const job = await fastify.jobQueue.get(request.params.id);
      if (!job) throw new HttpProblem(404, `Job ${request.params.id} does not exist.`);
      return job;
    },
  );
};

export default jobsRoutes;
