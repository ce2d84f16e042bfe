'use strict';
// The Node demo's upload API, as its README describes it: POST /upload (multipart field "image", with
// width and height) saves the file under UPLOAD_DIR, sets job:<id>:status to "queued" and LPUSHes the
// job on image_jobs. GET /status/:id reads the status back.
const crypto = require('node:crypto');
const path = require('node:path');
const express = require('express');
const multer = require('multer');
const Redis = require('ioredis');

const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
const outputDir = process.env.OUTPUT_DIR;
const upload = multer({ dest: process.env.UPLOAD_DIR });
const app = express();

function dimension(value) {
  const n = parseInt(value || '300', 10);
  return Number.isFinite(n) && n > 0 ? n : 300;
}

app.post('/upload', upload.single('image'), async (req, res) => {
  if (!req.file) {
    res.status(400).json({ error: 'no image' });
    return;
  }
  const id = crypto.randomUUID();
  const ext = path.extname(req.file.originalname).toLowerCase() || '.jpg';
  const job = {
    id,
    input: req.file.path,
    output: path.join(outputDir, `${id}${ext}`),
    width: dimension(req.body.width),
    height: dimension(req.body.height),
  };
  await redis.set(`job:${id}:status`, 'queued');
  await redis.lpush('image_jobs', JSON.stringify(job));
  res.status(202).json({ jobId: id, status: 'queued', statusUrl: `/status/${id}` });
});

app.get('/status/:id', async (req, res) => {
  const status = await redis.get(`job:${req.params.id}:status`);
  if (status === null) res.status(404).json({ error: 'not found' });
  else res.json({ jobId: req.params.id, status });
});

const port = parseInt(process.env.PORT || '3000', 10);
const server = app.listen(port, '127.0.0.1', () => console.log(`listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
