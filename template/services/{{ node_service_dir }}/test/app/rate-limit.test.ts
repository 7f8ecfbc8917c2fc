import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../helper.ts';

const PROBES = ['/healthz', '/healthz/', '/healthz?probe=1', '/readyz', '/readyz/', '/readyz?x=1'];

describe('rate limit', () => {
  it('should answer 429 past RATE_LIMIT_MAX, but never to a probe, however written', async (t) => {
    const app = await build(t, { RATE_LIMIT_MAX: '2' });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await app.inject({ method: 'GET', url: '/v1/notes' })).statusCode);
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    for (const url of PROBES) {
      const res = await app.inject({ method: 'GET', url });
      assert.notEqual(res.statusCode, 429, url);
      assert.equal(res.headers['ratelimit-limit'], undefined, url);
    }
  });

  it('should tell clients apart by the address a TRUST_PROXY proxy forwards', async (t) => {
    const app = await build(t, { RATE_LIMIT_MAX: '1', TRUST_PROXY: '10.0.0.0/8' });
    const from = (client: string, proxy = '10.1.2.3') =>
      app.inject({
        method: 'GET',
        url: '/v1/notes',
        remoteAddress: proxy,
        headers: { 'x-forwarded-for': client },
      });
    assert.equal((await from('203.0.113.7')).statusCode, 200);
    assert.equal((await from('203.0.113.7')).statusCode, 429);
    assert.equal((await from('198.51.100.9')).statusCode, 200);
    // A client that is not a trusted proxy cannot choose its address by the header.
    assert.equal((await from('192.0.2.1', '203.0.113.50')).statusCode, 200);
    assert.equal((await from('192.0.2.2', '203.0.113.50')).statusCode, 429);
  });

  it('should trust no proxy by default: the header does not make a new client', async (t) => {
    const app = await build(t, { RATE_LIMIT_MAX: '1' });
    const from = (client: string) =>
      app.inject({ method: 'GET', url: '/v1/notes', headers: { 'x-forwarded-for': client } });
    assert.equal((await from('203.0.113.7')).statusCode, 200);
    assert.equal((await from('198.51.100.9')).statusCode, 429);
  });
});
