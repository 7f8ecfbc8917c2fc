import cors from '@fastify/cors';
import fp from 'fastify-plugin';

/**
 * Cross-origin requests are allowed only from CORS_ORIGINS; empty (the default) means none.
 * @see https://github.com/fastify/fastify-cors
 */
export default fp(
  async (fastify) => {
    await fastify.register(cors, {
      origin: fastify.config.CORS_ORIGINS.length > 0 ? fastify.config.CORS_ORIGINS : false,
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
