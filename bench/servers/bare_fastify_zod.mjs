// Bare Fastify with the generated API's validation library: Zod through
// @fastify/type-provider-zod, the same schema as the generated POST /v1/notes (packages/contracts
// notes.ts), notes kept in memory, unique titles ignoring case. No other plugin, no logger: the
// yardstick of the generated validated POST. Installed by bench/run at the generated project's
// exact versions of fastify, zod and @fastify/type-provider-zod.
import { randomUUID } from 'node:crypto';
import { serializerCompiler, validatorCompiler } from '@fastify/type-provider-zod';
import Fastify from 'fastify';
import { z } from 'zod';

const Tag = z.string().min(1).max(32).regex(/^[a-z0-9-]+$/);
const NoteCreate = z.strictObject({
  title: z.string().trim().min(1).max(200),
  body: z.string().max(10_000).default(''),
  tags: z.array(Tag).max(10).default([]),
});
const NotePublic = z.object({
  id: z.uuid(),
  title: z.string(),
  body: z.string(),
  tags: z.array(z.string()),
  createdAt: z.iso.datetime(),
});

const app = Fastify({ logger: false, keepAliveTimeout: 72_000 });
app.setValidatorCompiler(validatorCompiler);
app.setSerializerCompiler(serializerCompiler);
const titles = new Set();
// Kept as the generated service keeps them: both pay the collector's work on a growing heap.
const notes = new Map();
app.get('/healthz', async () => ({ status: 'ok' }));
app.post(
  '/v1/notes',
  { schema: { body: NoteCreate, response: { 201: NotePublic } } },
  async (request, reply) => {
    const key = request.body.title.toLowerCase();
    if (titles.has(key)) return reply.code(409).send({ title: 'Conflict' });
    titles.add(key);
    const note = { id: randomUUID(), ...request.body, createdAt: new Date().toISOString() };
    notes.set(note.id, note);
    return reply.code(201).send(note);
  },
);
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => app.close().then(() => process.exit(0)));
