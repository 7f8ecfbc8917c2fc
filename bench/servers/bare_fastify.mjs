// Bare Fastify hello-world (no plugins, no logger, no schema): the yardstick of the generated API.
// Installed by bench/run at the generated project's exact Fastify version.
import Fastify from 'fastify';

const app = Fastify({ logger: false, keepAliveTimeout: 72_000 });
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => app.close().then(() => process.exit(0)));
