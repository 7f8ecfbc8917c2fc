import rateLimit from '@fastify/rate-limit';
import fp from 'fastify-plugin';

/** Routes an orchestrator probes: never throttled, however their URL is written. */
export const PROBES = new Set(['/healthz', '/readyz']);

/**
 * Per-client request budget (in memory: one budget per process; move it to Redis when you run
 * several replicas). Probes are exempt by the route they reach (`/healthz/`, `/healthz?probe=1`),
 * not by their raw URL: their routes say `config: { rateLimit: false }` (src/routes/health.ts),
 * so the plugin adds no hook to them at all. The client is `request.ip`: the proxy's forward
 * under TRUST_PROXY.
 * @see https://github.com/fastify/fastify-rate-limit
 */
export default fp(
  async (fastify) => {
    await fastify.register(rateLimit, {
      max: fastify.config.RATE_LIMIT_MAX,
      timeWindow: fastify.config.RATE_LIMIT_WINDOW_MS,
      // The IETF RateLimit-* headers, as the Python service sends them.
      enableDraftSpec: true,
    });
  },
  { name: 'rate-limit' },
);
