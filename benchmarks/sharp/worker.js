'use strict';
// The Node demo's worker: BRPOP a job from image_jobs, mark it processing, resize it with
// sharp(input).resize(width, height).toFile(output), mark it done (or failed). One job at a time.
const Redis = require('ioredis');
const sharp = require('sharp');

const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
let stopping = false;
process.on('SIGTERM', () => { stopping = true; setTimeout(() => process.exit(0), 2000).unref(); });

async function work() {
  console.log(`worker ready sharp=${sharp.versions.sharp} libvips=${sharp.versions.vips} concurrency=${sharp.concurrency()}`);
  while (!stopping) {
    const popped = await redis.brpop('image_jobs', 1);
    if (!popped) continue;
    const job = JSON.parse(popped[1]);
    await redis.set(`job:${job.id}:status`, 'processing');
    try {
      await sharp(job.input).resize(job.width, job.height).toFile(job.output);
      await redis.set(`job:${job.id}:status`, 'done');
    } catch (err) {
      console.error(`job ${job.id} failed: ${err.message}`);
      await redis.set(`job:${job.id}:status`, 'failed');
    }
  }
  process.exit(0);
}

work();
