// BullMQ worker throughput, run by bench/run from a built generated project's services/api (copied
// there so that `bullmq` and dist/ resolve). The producer is the project's own createQueue(); the
// generated worker (dist/worker.js) runs as its own process. Job: the smallest digest (rounds: 1).
//   burst: BENCH_BURST jobs added at once, rounds of them -> jobs/s = jobs / (last finish - first add)
//   latency: BENCH_SEQUENTIAL jobs one at a time -> finishedOn - timestamp (add -> result stored)
import { QueueEvents } from 'bullmq';
import { loadConfig } from './dist/config.js';
import { createQueue, QUEUE_NAME, redisConnection } from './dist/jobs/queue.js';

const config = loadConfig(process.env);
const queue = createQueue(config);
const events = new QueueEvents(QUEUE_NAME, {
  connection: redisConnection(config),
  prefix: config.QUEUE_PREFIX,
});
await events.waitUntilReady();
const burst = Number(process.env.BENCH_BURST ?? 200);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const sequential = Number(process.env.BENCH_SEQUENTIAL ?? 100);
const timeoutMs = Number(process.env.BENCH_TIMEOUT_MS ?? 120_000);
const data = { text: 'bench', rounds: 1 };

async function finished(job) {
  await job.waitUntilFinished(events, timeoutMs);
  const done = await queue.getJob(job.id);
  return done;
}

const result = { burst, rounds: [], latencies_ms: [] };
// Warm-up: the sandbox child starts on the first job.
await Promise.all((await queue.addBulk(Array.from({ length: 10 }, () => ({ name: 'digest', data })))).map(finished));
for (let round = 0; round < rounds; round++) {
  const started = Date.now();
  const jobs = await queue.addBulk(Array.from({ length: burst }, () => ({ name: 'digest', data })));
  const done = await Promise.all(jobs.map(finished));
  const failed = done.filter((job) => !job?.finishedOn || job.failedReason).length;
  const last = Math.max(...done.map((job) => job?.finishedOn ?? Date.now()));
  result.rounds.push({ jobs: burst, failed, seconds: (last - started) / 1000 });
}
for (let i = 0; i < sequential; i++) {
  const job = await queue.add('digest', data);
  const done = await finished(job);
  result.latencies_ms.push(done.finishedOn - done.timestamp);
}
console.log(`BENCH_JSON ${JSON.stringify(result)}`);
await events.close();
await queue.close();
