// TensorFlow.js's Adagrad (tfjs-core, CPU backend) on the atlas's flat golden cases.
// stdin: {"jobs": [{p0, G0 (or null: the optimizer fills initialAccumulatorValue), count, lr, iav,
// steps, grads (per step, or null), quadratic ([a, w_star] or null), recorded}]}, every float32 array
// as its bit patterns (uint32). stdout: {"version", "results": [per job {step: [G bits, w bits]} or
// an error string]}. Closed loops: g = a * (w - w_star), float32 operations as in NumPy.
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');

const f32 = (bits) => new Float32Array(new Uint32Array(bits).buffer);
const bits = (t) => {
  const a = Float32Array.from(t.dataSync());
  return Array.from(new Uint32Array(a.buffer));
};

async function runJob(job, k) {
  const w = tf.variable(tf.tensor1d(f32(job.p0), 'float32'), true, `w${k}`);
  const opt = tf.train.adagrad(job.lr, job.iav);
  if (job.G0 !== null) {
    await opt.setWeights([
      {name: 'iter', tensor: tf.scalar(job.count, 'int32')},
      {name: `w${k}/accumulator`, tensor: tf.tensor1d(f32(job.G0), 'float32')},
    ]);
  }
  const recorded = new Set(job.recorded);
  const out = {};
  for (let t = 0; t < job.steps; t++) {
    const g = tf.tidy(() => job.grads !== null
      ? tf.tensor1d(f32(job.grads[t]), 'float32')
      : tf.mul(tf.tensor1d(f32(job.quadratic[0]), 'float32'),
               tf.sub(w, tf.tensor1d(f32(job.quadratic[1]), 'float32'))));
    opt.applyGradients({[w.name]: g});
    g.dispose();
    if (recorded.has(t + 1)) {
      const G = opt.accumulatedGrads[0].variable;
      out[t + 1] = [bits(G), bits(w)];
    }
  }
  opt.dispose();
  w.dispose();
  return out;
}

async function main() {
  await tf.setBackend('cpu');
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const results = [];
  for (let k = 0; k < input.jobs.length; k++) {
    try {
      results.push(await runJob(input.jobs[k], k));
    } catch (e) {
      results.push(String(e).split('\n')[0].slice(0, 200));
    }
  }
  const version = `@tensorflow/tfjs-core ${tf.version_core}, backend ${tf.getBackend()}, node ${process.version}`;
  process.stdout.write(JSON.stringify({version, results}));
}

main().catch((e) => { console.error(String(e)); process.exit(1); });
