import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { z } from 'zod';
import { Problem } from '#contracts';
import { problem, sendProblem } from '../errors.ts';

const Status = z.object({ status: z.literal('ok') });

/** Probes: /healthz says the process is alive (no I/O), /readyz that its dependencies answer. */
const healthRoutes: FastifyPluginAsyncZod = async (fastify) => {
  fastify.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        operationId: 'readHealth',
        summary: 'Liveness: the process is up',
        response: { 200: Status },
      },
      // Probes are cheap: no access line (warnings only), no rate limit (plugins/external).
      logLevel: 'warn',
      config: { rateLimit: false },
    },
    async () => ({ status: 'ok' as const }),
  );

  fastify.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        operationId: 'readReadiness',
        summary: 'Readiness: every dependency answers',
        response: { 200: Status, 503: Problem },
      },
      logLevel: 'warn',
      config: { rateLimit: false },
    },
    async (request, reply) => {
      for (const { name, check } of fastify.readinessChecks) {
        try {
          await check();
        } catch (err) {
          request.log.warn({ err, dependency: name }, 'not ready');
          return sendProblem(reply, problem(request, 503, `${name} is unreachable.`));
        }
      }
      return { status: 'ok' as const };
    },
  );
};

export default healthRoutes;
