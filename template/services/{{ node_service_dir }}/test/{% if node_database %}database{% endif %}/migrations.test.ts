import assert from 'node:assert/strict';
import { it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { connectDatabase } from '../../src/database/connect.ts';
import { migrateToLatest, migrations } from '../../src/database/migrations/index.ts';
import { createDatabase, dropDatabase } from '../databases.ts';

it('migrates an empty database to the latest schema, then has nothing left to apply', async (t) => {
  const url = await createDatabase();
  const db = connectDatabase(loadConfig({ DATABASE_URL: url }), console.error);
  t.after(async () => {
    await db.destroy();
    await dropDatabase(url);
  });

  assert.deepEqual(await migrateToLatest(db), Object.keys(migrations));
  assert.deepEqual(await migrateToLatest(db), []);
  const tables = (await db.introspection.getTables()).map((table) => table.name);
  assert.ok(tables.includes('notes'), `no notes table in ${tables.join(', ')}`);
});
