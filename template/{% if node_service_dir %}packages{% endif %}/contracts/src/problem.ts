import { z } from 'zod';

/** One invalid field of a request, as reported in a 400 problem's `errors`. */
export const FieldError = z.object({
  path: z.string().describe('Where the problem is, e.g. "body.title"'),
  message: z.string(),
});
export type FieldError = z.infer<typeof FieldError>;

/**
 * Every error response: RFC 9457 problem details (`application/problem+json`).
 * @see https://www.rfc-editor.org/rfc/rfc9457
 */
export const Problem = z
  .object({
    type: z.string().describe('A URI reference naming the problem type ("about:blank" if none)'),
    title: z.string(),
    status: z.int().min(400).max(599),
    detail: z.string().optional(),
    instance: z.string().optional().describe('The request path'),
    requestId: z.string().optional().describe('Quote it when reporting the problem'),
    errors: z.array(FieldError).optional(),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof Problem>;
