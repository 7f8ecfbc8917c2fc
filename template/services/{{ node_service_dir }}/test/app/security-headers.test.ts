import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../helper.ts';

describe('security headers', () => {
  it('are set on every response, errors included', async (t) => {
    const app = await build(t);
    for (const url of ['/healthz', '/v1/notes/not-there', '/no-such-route']) {
      const res = await app.inject({ method: 'GET', url });
      assert.match(res.headers['content-security-policy'] as string, /default-src 'self'/, url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url);
      assert.match(res.headers['strict-transport-security'] as string, /max-age=/, url);
    }
  });
});
