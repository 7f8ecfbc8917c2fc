import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from '@fastify/type-provider-zod';
import fp from 'fastify-plugin';
import { PROBLEM_CONTENT_TYPE } from '../../errors.ts';

// Title, version and description come from this service's package.json (the same relative path
// from src/ and from dist/), so the code holds no project name.
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
  description: string;
};

type Operation = { responses?: Record<string, { content?: Record<string, unknown> }> };

/**
 * Every 4xx and 5xx a route declares is sent by the error handler (src/errors.ts) as
 * application/problem+json, while @fastify/swagger files each response schema under
 * application/json: move error schemas to the media type the service really sends. In place.
 */
function problemMediaType<T extends { paths?: unknown }>(document: T): T {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>;
  for (const operation of Object.values(paths).flatMap((item) => Object.values(item))) {
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      const schema = response.content?.['application/json'];
      if (Number(status) >= 400 && schema !== undefined) {
        response.content = { [PROBLEM_CONTENT_TYPE]: schema };
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
      transformObject: (input) => problemMediaType(jsonSchemaTransformObject(input)),
    });
    if (fastify.config.DOCS_ENABLED) {
      await fastify.register(swaggerUi, { routePrefix: '/docs' });
    }
  },
  { name: 'swagger' },
);
