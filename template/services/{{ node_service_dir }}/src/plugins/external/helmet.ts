import type { IncomingMessage, ServerResponse } from 'node:http';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

const options: HelmetOptions = {
  contentSecurityPolicy: {
    directives: {
      'img-src': ["'self'", 'data:', 'validator.swagger.io'],
      'script-src': ["'self'"],
      'style-src': ["'self'", "'unsafe-inline'"],
    },
  },
};

/**
 * The headers helmet sets with `options`, computed once: helmet's own middleware run against a
 * response that records them. (Its options are static, so every response would get the same.)
 */
export function helmetHeaders(helmetOptions: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader() {}, // X-Powered-By, which Fastify never sends
  };
  helmet(helmetOptions)({} as IncomingMessage, recorder as unknown as ServerResponse, () => {});
  return headers;
}

/**
 * Security headers. The CSP is relaxed only as far as the docs UI at /docs needs.
 *
 * helmet's headers are computed once, here, and every response gets them in one hook. (The
 * @fastify/helmet wrapper rebuilds helmet's middleware on every request, and helmet's own
 * middleware sets each header one by one on the raw response: together about a sixth of a
 * GET /healthz; see docs/benchmarks.md in the template repository.)
 * @see https://helmetjs.github.io/
 */
export default fp(
  async (fastify) => {
    const headers = helmetHeaders(options);
    fastify.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers);
      done();
    });
  },
  { name: 'helmet' },
);
