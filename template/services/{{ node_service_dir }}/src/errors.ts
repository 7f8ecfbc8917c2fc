import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FieldError, Problem } from '#contracts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** An error thrown on purpose: its status and detail (safe to show, even for 5xx) are the answer. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  readonly statusCode: number;

  constructor(statusCode: number, detail: string, options?: ErrorOptions) {
    super(detail, options);
    this.statusCode = statusCode;
  }
}

export function problem(
  request: FastifyRequest,
  status: number,
  detail?: string,
  errors?: FieldError[],
): Problem {
  return {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    ...(detail === undefined ? {} : { detail }),
    instance: request.url.split('?')[0] ?? request.url,
    requestId: request.id,
    ...(errors === undefined ? {} : { errors }),
  };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/**
 * One entry per invalid field, its path from the request part (`body.title`). Zod reports the
 * unknown fields of a strict object once, on the object: each gets its own path instead
 * (`body.colour`), as the Python service reports them.
 */
function fieldErrors(error: FastifyError): FieldError[] {
  const where = error.validationContext ?? 'request';
  return (error.validation ?? []).flatMap((issue) => {
    const path = [where, ...issue.instancePath.split('/').filter(Boolean)];
    const message = issue.message ?? 'Invalid value';
    const unknown = issue.keyword === 'unrecognized_keys' ? issue.params.keys : undefined;
    if (Array.isArray(unknown)) {
      return unknown.map((key) => ({ path: [...path, String(key)].join('.'), message }));
    }
    return [{ path: path.join('.'), message }];
  });
}

/**
 * Whether any string of a parsed JSON value (keys included) holds a lone UTF-16 surrogate
 * (`"x\ud800y"`: a valid JSON escape, but no Unicode text, RFC 8259 section 8.2). Iterative, so a
 * deeply nested body cannot exhaust the stack.
 */
export function hasLoneSurrogate(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (!item.isWellFormed()) return true;
    } else if (Array.isArray(item)) {
      pending.push(...item);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, entry] of Object.entries(item)) pending.push(key, entry);
    }
  }
  return false;
}

/**
 * Bodies are JSON in UTF-8, holding text that can round-trip; any other media type is a 415.
 * Fastify's own parser decodes invalid bytes to U+FFFD and keeps lone surrogates, which are then
 * stored as U+FFFD: this one answers 400 to both instead, after parsing exactly as Fastify does
 * (prototype poisoning refused, empty bodies refused, the body limit applied before any of it).
 * Fastify's `text/plain` parser goes too, so a JSON body sent as text/plain is a 415, as it is on
 * the Python service, rather than a string that fails validation.
 */
function acceptJsonOnly(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new HttpProblem(400, 'The body is not valid UTF-8.'), undefined);
      return;
    }
    // Fastify's own parser answers through `done` and returns nothing.
    void parseJson(request, text, (error, parsed) => {
      if (error) done(error, undefined);
      else if (hasLoneSurrogate(parsed)) {
        done(
          new HttpProblem(400, 'The body holds a lone UTF-16 surrogate, which is not text.'),
          undefined,
        );
      } else done(null, parsed);
    });
  });
}

/**
 * A 4xx is the client's mistake, not a fault: one line with its status, code and message, no
 * stack (a duplicate title would otherwise log the database driver's frames at info).
 */
function logRefusal(request: FastifyRequest, status: number, error: FastifyError): void {
  request.log.info({ status, code: error.code, detail: error.message }, 'request refused');
}

/**
 * Fastify's errors before routing (FST_ERR_BAD_URL: a target it cannot decode, such as
 * `/v1/notes/%`; FST_ERR_ASYNC_CONSTRAINT), answered as problems with the request id like every
 * other error. Fastify's default is plain JSON with no id. Passed as Fastify's `frameworkErrors`.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 400;
  logRefusal(request, status, error);
  void sendProblem(
    reply.header('x-request-id', request.id),
    problem(request, status, error.message),
  );
}

/**
 * Every error becomes an RFC 9457 problem. 4xx keep their (safe) message: bad JSON, validation,
 * body too large, rate limited. 5xx are logged with the request and answered with a generic
 * detail, so no stack trace, SQL or Redis message ever reaches a client.
 */
export function setErrorHandlers(app: FastifyInstance): void {
  acceptJsonOnly(app);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status =
      error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    if (error.validation) {
      return sendProblem(
        reply,
        problem(request, 400, 'The request is invalid.', fieldErrors(error)),
      );
    }
    if (error.code === 'FST_UNDER_PRESSURE') {
      // Load shedding, not a fault: no stack to log, which would only add to the load.
      request.log.warn('refused: under pressure');
      return sendProblem(reply, problem(request, 503, 'The server is busy; retry shortly.'));
    }
    if (status >= 500 && !(error instanceof HttpProblem)) {
      request.log.error({ err: error }, 'request failed');
      return sendProblem(reply, problem(request, status, 'Something went wrong on our side.'));
    }
    logRefusal(request, status, error);
    return sendProblem(reply, problem(request, status, error.message));
  });

  // Rate-limited, so nobody can cheaply scan for valid URLs.
  app.setNotFoundHandler({ preHandler: app.rateLimit() }, (request, reply) =>
    sendProblem(reply, problem(request, 404, `No route for ${request.method} ${request.url}.`)),
  );
}
