import { randomBytes } from 'node:crypto';

// W3C Trace Context: `traceparent: 00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`.
// @see https://www.w3.org/TR/trace-context/#traceparent-header
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceContext {
  traceId: string;
  flags: string;
}

/** The caller's trace if it sent a valid `traceparent`, else a new sampled one. */
export function traceFrom(header: string | string[] | undefined): TraceContext {
  const match = typeof header === 'string' ? TRACEPARENT.exec(header) : null;
  const traceId = match?.[1];
  if (traceId && !/^0+$/.test(traceId)) return { traceId, flags: match[3] ?? '01' };
  return { traceId: randomBytes(16).toString('hex'), flags: '01' };
}

/** A `traceparent` for an outgoing call: same trace, a new span id for this hop. */
export function childTraceparent({ traceId, flags }: TraceContext): string {
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
}
