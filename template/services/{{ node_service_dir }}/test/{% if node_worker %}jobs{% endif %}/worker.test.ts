import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Job, QueueEvents } from 'bullmq';
import type { Config } from '../../src/config.ts';
import {
  createQueue,
  type DigestQueue,
  QUEUE_NAME,
  redisConnection,
} from '../../src/jobs/queue.ts';
import { createWorker, type DigestWorker } from '../../src/jobs/worker.ts';
import { requireRedis, testConfig } from '../helper.ts';

// Real Redis, a queue prefix per test, everything closed and deleted afterwards.
async function setUp(config: Config, processor?: Parameters<typeof createWorker>[1]) {
  const queue = createQueue(config);
  const events = new QueueEvents(QUEUE_NAME, {
    connection: redisConnection(config),
    prefix: config.QUEUE_PREFIX,
  });
  await events.waitUntilReady();
  const worker: DigestWorker = createWorker(config, processor);
  const tearDown = async () => {
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
  };
  return { queue, events, worker, tearDown };
}

async function settle(job: Job, events: QueueEvents) {
  return job.waitUntilFinished(events).then(
    (result) => ({ ok: true as const, result }),
    (error: Error) => ({ ok: false as const, error }),
  );
}

describe('digest worker', () => {
  before(() => requireRedis());

  describe('with the sandboxed processor', () => {
    let setup: Awaited<ReturnType<typeof setUp>>;
    let queue: DigestQueue;
    before(async () => {
      setup = await setUp(testConfig());
      queue = setup.queue;
    });
    after(() => setup.tearDown());

    it('computes the digest of a valid payload', async () => {
      const job = await queue.add('digest', { text: 'abc', rounds: 1 });
      const outcome = await settle(job, setup.events);
      assert.equal(outcome.ok && outcome.result.rounds, 1);
    });

    it('fails an invalid payload at once, without retries', async () => {
      const job = await queue.add('digest', { text: 42 } as never);
      const outcome = await settle(job, setup.events);
      assert.equal(outcome.ok, false);
      const failed = await queue.getJob(job.id ?? '');
      assert.equal(failed?.attemptsMade, 1);
      assert.match(failed?.failedReason ?? '', /Invalid digest payload/);
    });
  });

  describe('with a processor that always throws', () => {
    let setup: Awaited<ReturnType<typeof setUp>>;
    before(async () => {
      setup = await setUp(testConfig({ JOB_ATTEMPTS: '3' }), async () => {
        throw new Error('downstream is down');
      });
    });
    after(() => setup.tearDown());

    it('retries with backoff, then keeps the job in the failed set (dead letters)', async () => {
      const job = await setup.queue.add('digest', { text: 'abc', rounds: 1 });
      const outcome = await settle(job, setup.events);
      assert.equal(outcome.ok, false);
      const [dead] = await setup.queue.getFailed();
      assert.equal(dead?.id, job.id);
      assert.equal(dead?.attemptsMade, 3);
      assert.equal(dead?.failedReason, 'downstream is down');
    });
  });
});
