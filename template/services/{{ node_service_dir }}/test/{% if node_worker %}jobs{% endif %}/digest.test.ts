import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { computeDigest } from '../../src/jobs/digest.ts';

describe('computeDigest', () => {
  it('is the SHA-256 of the text for one round', async () => {
    const expected = createHash('sha256').update('abc').digest('hex');
    assert.deepEqual(await computeDigest({ text: 'abc', rounds: 1 }), {
      digest: expected,
      rounds: 1,
    });
  });

  it('reports rising progress that ends at 100', async () => {
    const seen: number[] = [];
    await computeDigest({ text: 'abc', rounds: 1000 }, async (percent) => {
      seen.push(percent);
    });
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
    );
    assert.equal(seen.at(-1), 100);
  });
});
