// Writes openapi.json from the routes' schemas: `npm run openapi`. Commit the result; the test in
// test/openapi.test.ts fails when the committed file and the code disagree.
import { writeFile } from 'node:fs/promises';
import { buildApp } from '../src/app.ts';
import { openapiConfig } from '../test/helper.ts';

const app = await buildApp(openapiConfig());
await writeFile(
  new URL('../openapi.json', import.meta.url),
  `${JSON.stringify(app.swagger(), null, 2)}\n`,
);
await app.close();
