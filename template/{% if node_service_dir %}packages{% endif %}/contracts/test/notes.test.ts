import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NoteCreate, NotesQuery } from '../src/index.ts';

describe('NoteCreate', () => {
  it('fills in the defaults and trims the title', () => {
    assert.deepEqual(NoteCreate.parse({ title: '  Groceries ' }), {
      title: 'Groceries',
      body: '',
      tags: [],
    });
  });

  it('rejects unknown fields instead of dropping them', () => {
    const result = NoteCreate.safeParse({ title: 'x', owner: 'admin' });
    assert.equal(result.success, false);
    assert.equal(result.error?.issues[0]?.code, 'unrecognized_keys');
  });

  it('rejects tags that are not lowercase slugs', () => {
    assert.equal(NoteCreate.safeParse({ title: 'x', tags: ['Not OK'] }).success, false);
  });
});

describe('NotesQuery', () => {
  it('coerces the query string numbers and bounds the page size', () => {
    assert.deepEqual(NotesQuery.parse({ limit: '5' }), { limit: 5, offset: 0 });
    assert.equal(NotesQuery.safeParse({ limit: '1000' }).success, false);
  });
});
