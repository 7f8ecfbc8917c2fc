import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { build } from '../../helper.ts';

// Names of this test's own: with a database, every test of the run shares its tables.
const unique = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

describe('POST /v1/notes', () => {
  it('should create a note and point to it', async (t) => {
    const app = await build(t);
    const title = unique('Launch plan');
    const res = await app.inject({
      method: 'POST',
      url: '/v1/notes',
      payload: { title: ` ${title} `, tags: ['q3'] },
    });
    assert.equal(res.statusCode, 201);
    const note = res.json();
    assert.equal(note.title, title);
    assert.equal(res.headers.location, `/v1/notes/${note.id}`);

    const read = await app.inject({ method: 'GET', url: `/v1/notes/${note.id}` });
    assert.deepEqual(read.json(), note);
  });

  it('should refuse a title already taken, ignoring case, with a 409 problem', async (t) => {
    const app = await build(t);
    const title = unique('Groceries');
    const first = await app.inject({ method: 'POST', url: '/v1/notes', payload: { title } });
    assert.equal(first.statusCode, 201);
    const again = await app.inject({
      method: 'POST',
      url: '/v1/notes',
      payload: { title: title.toUpperCase() },
    });
    assert.equal(again.statusCode, 409);
    assert.match(again.headers['content-type'] as string, /^application\/problem\+json/);
    assert.equal(again.json().detail, `A note titled "${title.toUpperCase()}" already exists.`);
  });
});

describe('GET /v1/notes', () => {
  it('should list notes newest first, filtered by tag', async (t) => {
    const app = await build(t);
    const tag = unique('x');
    for (const [title, tags] of [
      ['a', [tag]],
      ['b', []],
      ['c', [tag]],
    ] as const) {
      await app.inject({
        method: 'POST',
        url: '/v1/notes',
        payload: { title: unique(title), tags },
      });
    }
    const res = await app.inject({ method: 'GET', url: `/v1/notes?tag=${tag}&limit=1` });
    assert.equal(res.statusCode, 200);
    const page = res.json();
    assert.equal(page.total, 2);
    assert.deepEqual(
      page.items.map((note: { title: string }) => note.title.split('-')[0]),
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
