import cors from '@fastify/cors';
import fp from 'fastify-plugin';

/**
 * Cross-origin requests are allowed only from CORS_ORIGINS; empty (the default) means none: the
 * plugin is then not registered at all (no CORS headers, a preflight is a 404, as with
 * `origin: false`), so that requests do not pay for its hook.
 * @see https://github.com/fastify/fastify-cors
 */
export default fp(
  async (fastify) => {
    if (fastify.config.CORS_ORIGINS.length === 0) return;
    await fastify.register(cors, {
      origin: fastify.config.CORS_ORIGINS,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      exposedHeaders: [
        'x-request-id',
        'retry-after',
        'ratelimit-limit',
        'ratelimit-remaining',
        'ratelimit-reset',
      ],
    });
  },
  { name: 'cors' },
);
