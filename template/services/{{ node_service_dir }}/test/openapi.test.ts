import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { it } from 'node:test';
import { buildApp } from '../src/app.ts';
import { openapiConfig, requireRedis } from './helper.ts';

it('keeps the committed openapi.json in step with the routes (run `npm run openapi`)', async (t) => {
  const config = openapiConfig();
  if ('REDIS_URL' in config) await requireRedis(String(config.REDIS_URL));
  const app = await buildApp(config);
  t.after(() => app.close());
  const committed = JSON.parse(await readFile(new URL('../openapi.json', import.meta.url), 'utf8'));
  assert.deepEqual(JSON.parse(JSON.stringify(app.swagger())), committed);
});
