// The hash bound of better-auth on this machine: its own hashPassword
// (@better-auth/utils/password: node:crypto scrypt N=16384 r=16 p=1 dkLen=64,
// run on libuv's thread pool), one hash in flight per core for SECONDS, plus
// the time of one hash alone (best of 5, and the median). usage: node scryptbound.mjs [THREADS] [SECONDS]
import os from "node:os";
import { hashPassword } from "@better-auth/utils/password";

const threads = Number(process.argv[2]) || os.availableParallelism();
const seconds = Number(process.argv[3]) || 5;
const now = () => performance.now() / 1e3;

await hashPassword("warm-up-password");
const singles = [];
for (let i = 0; i < 5; i++) {
  const t0 = now();
  await hashPassword(`bench-password-${i}`);
  singles.push(now() - t0);
}
singles.sort((a, b) => a - b);

const deadline = now() + seconds;
async function lane(id) {
  const start = now();
  let n = 0, last = start;
  do {
    await hashPassword(`bench-password-${id}-${n}`);
    n++;
    last = now();
  } while (last < deadline);
  return { n, el: last - start };
}
const res = await Promise.all(Array.from({ length: threads }, (_, i) => lane(i)));
const rate = res.reduce((s, r) => s + r.n / r.el, 0);
console.log(JSON.stringify({
  alg: "scrypt", N: 16384, r: 16, p: 1, dkLen: 64, impl: "node:crypto scrypt via @better-auth/utils/password",
  threads, seconds, hashes: res.reduce((s, r) => s + r.n, 0),
  hashes_per_s: +rate.toFixed(2), single_ms: +(singles[0] * 1e3).toFixed(2),
  single_median_ms: +(singles[2] * 1e3).toFixed(2), singles: singles.length,
}));
