import fp from 'fastify-plugin';
import helmet from 'helmet';

/**
 * Security headers. The CSP is relaxed only as far as the docs UI at /docs needs.
 *
 * helmet builds its headers once, here, and every response gets them in one hook. (The
 * @fastify/helmet wrapper rebuilds helmet's middleware on every request, which measured at
 * half the throughput of GET /healthz; see docs/benchmarks.md in the template repository.)
 * @see https://helmetjs.github.io/
 */
export default fp(
  async (fastify) => {
    const setSecurityHeaders = helmet({
      contentSecurityPolicy: {
        directives: {
          'img-src': ["'self'", 'data:', 'validator.swagger.io'],
          'script-src': ["'self'"],
          'style-src': ["'self'", "'unsafe-inline'"],
        },
      },
    });
    fastify.addHook('onRequest', (request, reply, done) => {
      // helmet 8 throws its errors rather than passing them on, so `next` only means "done".
      setSecurityHeaders(request.raw, reply.raw, () => done());
    });
  },
  { name: 'helmet' },
);
