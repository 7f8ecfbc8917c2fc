import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from '@fastify/type-provider-zod';
import fp from 'fastify-plugin';
import { PROBLEM_CONTENT_TYPE } from '../../errors.ts';
import { PROBES } from './rate-limit.ts';

// Title, version and description come from this service's package.json (the same relative path
// from src/ and from dist/), so the code holds no project name.
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
  description: string;
};

type Response = { description: string; content?: Record<string, unknown> };
type Operation = {
  parameters?: unknown[];
  requestBody?: unknown;
  responses?: Record<string, Response>;
};

const problem = (description: string): Response => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
});

/**
 * What the server answers before a route's handler runs, declared on each operation where the
 * route does not: for a body, 400 (not JSON text), 413 (over BODY_LIMIT, src/app.ts) and 415 (in
 * another media type, Fastify's content-type parser); 400 for a parameter its schema refuses; on
 * every route but the probes, 429 (plugins/external/rate-limit.ts) and 503 (REQUEST_TIMEOUT_MS,
 * or an event loop under pressure: plugins/external/under-pressure.ts). The Python service's
 * documents declare the same (app/core/docs.py).
 */
const BODY_ERRORS: Record<string, string> = {
  '400': 'The body is not JSON text, or not valid',
  '413': 'The body is larger than BODY_LIMIT bytes',
  '415': 'The body is not application/json',
};
const INVALID_PARAMETER = 'A path or query parameter is not valid';
const TOO_MANY_REQUESTS =
  'This client used up its RATE_LIMIT_MAX requests: retry after Retry-After';
const UNAVAILABLE = 'The service is overloaded, or the request outlasted its time: retry later';

/**
 * Make the document say what the service really sends, in place: every 4xx and 5xx a route
 * declares is sent by the error handler (src/errors.ts) as application/problem+json, while
 * @fastify/swagger files each response schema under application/json, so error schemas move to
 * the problem media type; and the answers above are declared.
 */
function contractDocument<T extends { paths?: unknown }>(document: T): T {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const operation of Object.values(item)) {
      operation.responses ??= {};
      const responses = operation.responses;
      for (const [status, response] of Object.entries(responses)) {
        const schema = response.content?.['application/json'];
        if (Number(status) >= 400 && schema !== undefined) {
          response.content = { [PROBLEM_CONTENT_TYPE]: schema };
        }
      }
      if (operation.requestBody !== undefined) {
        for (const [status, description] of Object.entries(BODY_ERRORS)) {
          responses[status] ??= problem(description);
        }
      }
      if (operation.parameters?.length) responses['400'] ??= problem(INVALID_PARAMETER);
      if (!PROBES.has(path)) {
        responses['429'] ??= problem(TOO_MANY_REQUESTS);
        responses['503'] ??= problem(UNAVAILABLE);
      }
    }
  }
  return document;
}

/**
 * OpenAPI 3.1 generated from the routes' Zod schemas (the contracts package); the UI at /docs
 * only when DOCS_ENABLED (default false, so production exposes neither UI nor schema).
 * `npm run openapi` writes it to openapi.json, and a test fails on drift.
 * @see https://github.com/fastify/fastify-swagger
 */
export default fp(
  async (fastify) => {
    await fastify.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: pkg.name, version: pkg.version, description: pkg.description },
      },
      hideUntagged: true,
      transform: jsonSchemaTransform,
      transformObject: (input) => contractDocument(jsonSchemaTransformObject(input)),
    });
    if (fastify.config.DOCS_ENABLED) {
      await fastify.register(swaggerUi, { routePrefix: '/docs' });
    }
  },
  { name: 'swagger' },
);
