'use strict';
// sharp alone, for the one-core resize table. Reads one JSON command per line on stdin:
//   {"files": [...], "width": 300, "height": 300, "fit": "cover"|"inside", "format": null|"jpeg"|...,
//    "save": null|[output paths]}
// or, for a set of outputs per file, {"files": [...], "set": [{"width", "height", "fit", "format"}, ...],
//    "save": null|[output paths, file by file, output by output]}
// resizes every file from memory (EXIF orientation applied, as imgqueue does), one at a time, and
// answers one line {"seconds", "bytes": [...]}.
// libvips runs one thread and no operation cache (the caller pins the process to one CPU).
const fs = require('node:fs');
const readline = require('node:readline');
const sharp = require('sharp');

sharp.concurrency(1);
sharp.cache(false);
const buffers = new Map();

function load(file) {
  if (!buffers.has(file)) buffers.set(file, fs.readFileSync(file));
  return buffers.get(file);
}

// A set of outputs from one input the way sharp's documentation shows: one sharp(input), a clone() per
// output, all awaited together (each clone decodes the input again).
async function runSet(cmd) {
  const inputs = cmd.files.map(load);
  const bytes = [];
  const outputs = [];
  const t0 = process.hrtime.bigint();
  for (const input of inputs) {
    const base = sharp(input).rotate();
    const made = await Promise.all(cmd.set.map((o) => base.clone().resize(o.width, o.height, { fit: o.fit })
      .toFormat(o.format).toBuffer()));
    for (const out of made) {
      bytes.push(out.length);
      outputs.push(out);
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (cmd.save) cmd.save.forEach((target, i) => fs.writeFileSync(target, outputs[i]));
  return { seconds, bytes };
}

async function run(cmd) {
  if (cmd.set) return runSet(cmd);
  const inputs = cmd.files.map(load);
  const bytes = [];
  const outputs = [];
  const t0 = process.hrtime.bigint();
  for (const input of inputs) {
    let pipeline = sharp(input).rotate().resize(cmd.width, cmd.height, { fit: cmd.fit });
    if (cmd.format) pipeline = pipeline.toFormat(cmd.format);
    const out = await pipeline.toBuffer();
    bytes.push(out.length);
    outputs.push(out);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (cmd.save) cmd.save.forEach((target, i) => fs.writeFileSync(target, outputs[i]));
  return { seconds, bytes };
}

const lines = readline.createInterface({ input: process.stdin });
console.log(JSON.stringify({ ready: true, sharp: sharp.versions.sharp, libvips: sharp.versions.vips }));
lines.on('line', async (line) => {
  try {
    console.log(JSON.stringify(await run(JSON.parse(line))));
  } catch (err) {
    console.log(JSON.stringify({ error: err.message }));
  }
});
