// Issue 8 item 7: a refresh retried with the same token within
// --refresh-reuse-interval (a lost answer, two tabs) gets the same successor
// instead of ending the session; after the interval, or for a token whose
// successor was rotated already, it is reuse and the session ends.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newDb, mkTenant, mkUser, loginOk, me, refresh, pw, assertError, sleep, noteSecret,
} from '../lib/server.js';

describe('refresh reuse interval (default 10 s)', { timeout: 120000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'ria@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('20 parallel refreshes with one token: 20 × 200, one and the same successor, which works; the session lives', async () => {
    const a = await loginOk(srv, 'ria@example.com', P);
    const rs = await Promise.all(Array.from({ length: 20 }, () => refresh(srv, a.refresh_token)));
    assert.deepEqual(rs.map((r) => r.status), Array(20).fill(200), rs.map((r) => r.text).join('\n'));
    for (const r of rs) noteSecret(r.json.refresh_token);
    const next = new Set(rs.map((r) => r.json.refresh_token));
    assert.equal(next.size, 1, 'every answer carries the same successor');
    const [succ] = next;
    assert.notEqual(succ, a.refresh_token);
    for (const r of rs.slice(0, 3)) assert.equal((await me(srv, r.json.token)).status, 200);
    const n = await refresh(srv, succ);
    assert.equal(n.status, 200, n.text);
    assert.equal((await me(srv, n.json.token)).status, 200, 'the session lives');
    assert.equal((await me(srv, a.token)).status, 200);
    // One rotation of the parent: the retries were no reuse.
    assert.deepEqual(srv.events().filter((e) => e.event === 'refresh_reuse'), []);
    assert.equal(srv.events().filter((e) => e.event === 'refresh_retry').length, 19);
  });

  it('a lost answer: the retry gets the same successor, and the first access token stays good', async () => {
    const a = await loginOk(srv, 'ria@example.com', P);
    const lost = await refresh(srv, a.refresh_token);
    assert.equal(lost.status, 200, lost.text);
    const retry = await refresh(srv, a.refresh_token);
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.json.refresh_token, lost.json.refresh_token);
    assert.equal((await me(srv, retry.json.token)).status, 200);
    assert.equal((await me(srv, lost.json.token)).status, 200);
  });

  it('a grandparent within the interval (its successor was rotated already): 401 token_reused, the session ends', async () => {
    const a = await loginOk(srv, 'ria@example.com', P);
    const b = await refresh(srv, a.refresh_token);
    assert.equal(b.status, 200, b.text);
    const c = await refresh(srv, b.json.refresh_token);
    assert.equal(c.status, 200, c.text);
    assertError(await refresh(srv, a.refresh_token), 401, 'token_reused');
    assertError(await me(srv, c.json.token), 401, 'session_revoked');
    assertError(await refresh(srv, c.json.refresh_token), 401, 'session_revoked');
  });
});

describe('refresh reuse interval of 1 s', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'rob@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--refresh-reuse-interval', '1'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('a retry after the interval: 401 token_reused, the session revoked, a refresh_reuse warning', async () => {
    const a = await loginOk(srv, 'rob@example.com', P);
    const b = await refresh(srv, a.refresh_token);
    assert.equal(b.status, 200, b.text);
    await sleep(2500);
    assertError(await refresh(srv, a.refresh_token), 401, 'token_reused');
    assertError(await me(srv, b.json.token), 401, 'session_revoked');
    assertError(await refresh(srv, b.json.refresh_token), 401, 'session_revoked');
    const ev = srv.events().filter((e) => e.event === 'refresh_reuse');
    assert.equal(ev.length, 1, JSON.stringify(ev));
    assert.equal(ev[0].level, 'warn');
  });
});

describe('refresh reuse interval 0: strict rotation', { timeout: 60000 }, () => {
  let srv;
  const db = newDb();
  const P = pw();
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'sia@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme', '--refresh-reuse-interval', '0'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('20 parallel refreshes: exactly one 200, the others 401', async () => {
    const a = await loginOk(srv, 'sia@example.com', P);
    const rs = await Promise.all(Array.from({ length: 20 }, () => refresh(srv, a.refresh_token)));
    assert.equal(rs.filter((r) => r.status === 200).length, 1, rs.map((r) => r.status).join(','));
    for (const r of rs) if (r.status !== 200) assert.equal(r.status, 401, r.text);
  });

  it('an immediate second use: 401 token_reused and the session ends', async () => {
    const a = await loginOk(srv, 'sia@example.com', P);
    const b = await refresh(srv, a.refresh_token);
    assert.equal(b.status, 200, b.text);
    assertError(await refresh(srv, a.refresh_token), 401, 'token_reused');
    assertError(await me(srv, b.json.token), 401, 'session_revoked');
  });
});
