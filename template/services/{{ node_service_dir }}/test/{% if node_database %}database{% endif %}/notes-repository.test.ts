import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { HttpProblem } from '../../src/errors.ts';
import { build, testConfig } from '../helper.ts';

describe('the PostgreSQL notes repository', () => {
  it('keeps notes across a restart of the app', async (t) => {
    const config = testConfig();
    const before = await buildApp(config);
    const note = await before.notesRepository.create({
      title: `Kept ${randomUUID()}`,
      body: 'in PostgreSQL',
      tags: ['kept'],
    });
    await before.close();

    const after = await build(t);
    assert.deepEqual(await after.notesRepository.get(note.id), note);
  });

  it('answers a value a check constraint refuses with a 422 problem, not a 500', async (t) => {
    const app = await build(t);
    // The API's schema never lets an empty title through; other writers meet the constraint.
    await assert.rejects(
      app.notesRepository.create({ title: '', body: '', tags: [] }),
      (error: unknown) => error instanceof HttpProblem && error.statusCode === 422,
    );
  });

  it('answers a value the column cannot hold with a 422 problem, not a 500', async (t) => {
    const app = await build(t);
    // PostgreSQL text cannot hold a NUL character; the fuzz found this one.
    const response = await app.inject({
      method: 'POST',
      url: '/v1/notes',
      payload: { title: `Nul \u0000 ${randomUUID()}`, body: '', tags: [] },
    });
    assert.equal(response.statusCode, 422);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  });
});
