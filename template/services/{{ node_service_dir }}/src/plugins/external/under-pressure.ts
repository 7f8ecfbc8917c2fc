import underPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';

/**
 * Answer 503 instead of queueing more work when the event loop falls a second behind, so a load
 * balancer can route around this instance. (No event-loop-utilisation limit: a busy but healthy
 * process sits near 100%, and would refuse nearly everything.)
 * @see https://github.com/fastify/under-pressure
 */
export default fp(
  async (fastify) => {
    await fastify.register(underPressure, {
      maxEventLoopDelay: 1000,
      retryAfter: 10,
    });
  },
  { name: 'under-pressure' },
);
