import rateLimit from '@fastify/rate-limit';
import fp from 'fastify-plugin';

/**
 * Per-client request budget (in memory: one budget per process; move it to Redis when you run
 * several replicas). Probes are exempt so an orchestrator is never throttled.
 * @see https://github.com/fastify/fastify-rate-limit
 */
export default fp(
  async (fastify) => {
    await fastify.register(rateLimit, {
      max: fastify.config.RATE_LIMIT_MAX,
      timeWindow: fastify.config.RATE_LIMIT_WINDOW_MS,
      allowList: (request) => request.url === '/healthz' || request.url === '/readyz',
      // The IETF RateLimit-* headers, as the Python service sends them.
      enableDraftSpec: true,
    });
  },
  { name: 'rate-limit' },
);
