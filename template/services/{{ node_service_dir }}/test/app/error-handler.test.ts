import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { build } from '../helper.ts';

const PROBLEM = /^application\/problem\+json/;

describe('error responses', () => {
  it('answer malformed JSON with a 400 problem', async (t) => {
    const app = await build(t);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/notes',
      headers: { 'content-type': 'application/json' },
      payload: '{"title": ',
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.headers['content-type'] as string, PROBLEM);
    assert.equal(res.json().status, 400);
  });

  it('answer wrong types with a 400 problem listing the fields', async (t) => {
    const app = await build(t);
    const res = await app.inject({ method: 'POST', url: '/v1/notes', payload: { title: 42 } });
    assert.equal(res.statusCode, 400);
    assert.match(res.headers['content-type'] as string, PROBLEM);
    assert.deepEqual(
      res.json().errors.map((error: { path: string }) => error.path),
      ['body.title'],
    );
  });

  it('answer unknown fields with a 400 problem', async (t) => {
    const app = await build(t);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/notes',
      payload: { title: 'ok', isAdmin: true },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().errors[0].message, /isAdmin/);
  });

  it('answer an oversized body with a 413 problem', async (t) => {
    const app = await build(t, { BODY_LIMIT: '1024' });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/notes',
      payload: { title: 'big', body: 'x'.repeat(2048) },
    });
    assert.equal(res.statusCode, 413);
    assert.match(res.headers['content-type'] as string, PROBLEM);
  });

  it('answer a body that is not UTF-8 with a 400 problem', async (t) => {
    const app = await build(t);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/notes',
      headers: { 'content-type': 'application/json' },
      payload: Buffer.from([...Buffer.from('{"title": "'), 0xff, 0xfe, ...Buffer.from('"}')]),
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.headers['content-type'] as string, PROBLEM);
    assert.equal(res.json().detail, 'The body is not valid UTF-8.');
  });

  it('answer a lone UTF-16 surrogate anywhere in the body with a 400 problem', async (t) => {
    const app = await build(t);
    const bodies = [
      '{"title": "x\\ud800y"}',
      '{"title": "\\udfff"}',
      '{"title": "ok", "tags": ["\\ud83d"]}',
      '{"title": "ok", "\\udc00": 1}',
    ];
    for (const payload of bodies) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/notes',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      assert.equal(res.statusCode, 400, payload);
      assert.match(res.json().detail, /lone UTF-16 surrogate/, payload);
    }
  });

  it('keep a surrogate pair, which is text', async (t) => {
    const app = await build(t);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/notes',
      headers: { 'content-type': 'application/json' },
      payload: '{"title": "x\\ud83d\\ude00y"}',
    });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().title, 'x\u{1F600}y');
  });

  it('answer a body in any media type but JSON with a 415 problem', async (t) => {
    const app = await build(t);
    const json = JSON.stringify({ title: 'not JSON by its type' });
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/xml', undefined]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/notes',
        headers: type === undefined ? {} : { 'content-type': type },
        payload: json,
      });
      assert.equal(res.statusCode, 415, type);
      assert.match(res.headers['content-type'] as string, PROBLEM, type);
    }
  });

  it('answer a target Fastify cannot decode with a 400 problem carrying the request id', async (t) => {
    const app = await build(t);
    for (const url of ['/v1/notes/%', '/%', '/v1/notes/%zz']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 400, url);
      assert.match(res.headers['content-type'] as string, PROBLEM, url);
      assert.equal(res.json().requestId, res.headers['x-request-id'], url);
    }
  });

  it('answer HEAD on a GET route as the GET, without a body', async (t) => {
    const app = await build(t);
    for (const url of ['/healthz', '/v1/notes', `/v1/notes/${randomUUID()}`]) {
      const [get, head] = await Promise.all([
        app.inject({ method: 'GET', url }),
        app.inject({ method: 'HEAD', url }),
      ]);
      assert.equal(head.statusCode, get.statusCode, url);
      assert.equal(head.body, '', url);
    }
  });

  it('answer JSON nested 10,000 deep with a 400 problem', async (t) => {
    const app = await build(t);
    for (const payload of ['['.repeat(10_000), `${'['.repeat(10_000)}${']'.repeat(10_000)}`]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/notes',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      assert.equal(res.statusCode, 400);
      assert.match(res.headers['content-type'] as string, PROBLEM);
    }
  });

  it('answer an unknown route with a 404 problem', async (t) => {
    const app = await build(t);
    const res = await app.inject({ method: 'GET', url: '/nope?secret=1' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().instance, '/nope');
  });

  it('hide the internals of a 500', async (t) => {
    const app = await build(t);
    app.notesRepository.list = async () => {
      throw new Error('connection string postgres://admin:hunter2@db');
    };
    const res = await app.inject({ method: 'GET', url: '/v1/notes' });
    assert.equal(res.statusCode, 500);
    assert.doesNotMatch(res.body, /hunter2/);
    assert.equal(res.json().requestId, res.headers['x-request-id']);
  });
});

describe('production defaults', () => {
  it('serve no docs UI unless DOCS_ENABLED', async (t) => {
    const app = await build(t);
    for (const url of ['/docs', '/docs/json']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
      assert.match(res.headers['content-type'] as string, PROBLEM, url);
    }
  });

  it('serve the docs UI when DOCS_ENABLED=true', async (t) => {
    const app = await build(t, { DOCS_ENABLED: 'true' });
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    assert.ok(res.json().paths['/v1/notes']);
  });

  it('let no origin in when CORS_ORIGINS is empty', async (t) => {
    const app = await build(t);
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/v1/notes',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});
