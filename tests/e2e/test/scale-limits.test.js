// Issue 8 item 3: the per-account rate limit holds across nodes. Two
// servers on one SQLite database are two nodes; attempts spread over both
// are limited exactly as on one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newDb, mkTenant, mkUser, login, loginOk, pw, assertError,
} from '../lib/server.js';

const LIMITS = ['--default-tenant', 'acme', '--rl-account-burst', '3', '--rl-account-per-min', '6', '--lock-after', '100'];

describe('per-account rate limit over two nodes', { timeout: 90000 }, () => {
  let db;
  let a;
  let b;
  const P = pw();
  before(async () => {
    db = newDb();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'ana@example.com', P);
    a = await startServer({ db, rateLimits: false, args: LIMITS });
    b = await startServer({ db, rateLimits: false, args: LIMITS });
  });
  after(async () => {
    if (a) await a.stop();
    if (b) await b.stop();
  });

  it('wrong passwords alternating between nodes: the burst of 3 in all, then 429 on both', async () => {
    const seq = [];
    for (const [i, srv] of [a, b, a, b, a].entries()) {
      const r = await login(srv, 'ghost@example.com', `wrong-password-${i}`);
      seq.push(`${r.status} ${r.json && r.json.code}`);
    }
    assert.deepEqual(seq, [
      '401 invalid_credentials', '401 invalid_credentials', '401 invalid_credentials',
      '429 rate_limited', '429 rate_limited',
    ]);
  });

  it('a correct password on one node gives its attempt back on the other', async () => {
    assertError(await login(a, 'ana@example.com', 'wrong-password-1'), 401, 'invalid_credentials');
    await loginOk(b, 'ana@example.com', P);
    await loginOk(a, 'ANA@example.com', P);
    assertError(await login(b, 'ana@example.com', 'wrong-password-2'), 401, 'invalid_credentials');
    assertError(await login(a, 'ana@example.com', 'wrong-password-3'), 401, 'invalid_credentials');
    const r = await login(b, 'ana@example.com', P);
    assertError(r, 429, 'rate_limited');
    const ra = Number(r.headers['retry-after']);
    assert.ok(ra >= 1 && ra <= 10, `Retry-After ${r.headers['retry-after']} (one attempt per 10 s)`);
  });

  it('twelve attempts at once, six on each node: exactly the burst of 3 is answered 401', async () => {
    const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => login(i % 2 ? a : b, 'parallel@example.com', `wrong-password-${i}`)));
    const by = {};
    for (const r of rs) by[r.status] = (by[r.status] ?? 0) + 1;
    assert.deepEqual(by, { 401: 3, 429: 9 });
  });
});
