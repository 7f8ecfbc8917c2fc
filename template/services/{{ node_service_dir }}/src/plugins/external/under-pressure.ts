import underPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';

/**
 * Answer 503 instead of queueing more work when the event loop or memory is saturated, so a load
 * balancer can route around this instance.
 * @see https://github.com/fastify/under-pressure
 */
export default fp(
  async (fastify) => {
    await fastify.register(underPressure, {
      maxEventLoopDelay: 1000,
      maxEventLoopUtilization: 0.98,
      retryAfter: 10,
    });
  },
  { name: 'under-pressure' },
);
