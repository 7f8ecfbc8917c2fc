import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../../helper.ts';

describe('POST /v1/notes', () => {
  it('should create a note and point to it', async (t) => {
    const app = await build(t);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/notes',
      payload: { title: ' Launch plan ', tags: ['q3'] },
    });
    assert.equal(res.statusCode, 201);
    const note = res.json();
    assert.equal(note.title, 'Launch plan');
    assert.equal(res.headers.location, `/v1/notes/${note.id}`);

    const read = await app.inject({ method: 'GET', url: `/v1/notes/${note.id}` });
    assert.deepEqual(read.json(), note);
  });
});

describe('GET /v1/notes', () => {
  it('should list notes newest first, filtered by tag', async (t) => {
    const app = await build(t);
    for (const [title, tags] of [
      ['a', ['x']],
      ['b', []],
      ['c', ['x']],
    ] as const) {
      await app.inject({ method: 'POST', url: '/v1/notes', payload: { title, tags } });
    }
    const res = await app.inject({ method: 'GET', url: '/v1/notes?tag=x&limit=1' });
    assert.equal(res.statusCode, 200);
    const page = res.json();
    assert.equal(page.total, 2);
    assert.deepEqual(
      page.items.map((note: { title: string }) => note.title),
      ['c'],
    );
  });
});

describe('GET /v1/notes/:id', () => {
  it('should return 404 if the note is not found', async (t) => {
    const app = await build(t);
    const res = await app.inject({
      method: 'GET',
      url: '/v1/notes/6f1d2c3b-0a4e-4f5a-9b8c-7d6e5f4a3b2c',
    });
    assert.equal(res.statusCode, 404);
  });

  it('should return 400 if the id is not a UUID', async (t) => {
    const app = await build(t);
    const res = await app.inject({ method: 'GET', url: '/v1/notes/42' });
    assert.equal(res.statusCode, 400);
  });
});
