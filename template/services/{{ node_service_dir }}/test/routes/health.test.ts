import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../helper.ts';

describe('GET /healthz', () => {
  it('should answer ok without touching any dependency', async (t) => {
    const app = await build(t);
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });
});

describe('GET /readyz', () => {
  it('should answer ok when every dependency answers', async (t) => {
    const app = await build(t);
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 200);
  });

  it('should answer a 503 problem naming the dependency that fails', async (t) => {
    const app = await build(t);
    app.readinessChecks.push({
      name: 'database',
      check: async () => {
        throw new Error('down');
      },
    });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 503);
    assert.match(res.json().detail, /database/);
  });
});
