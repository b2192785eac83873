// Issue 8 items 4, 6 and 8: requests that touch the store run on the store
// threads (a slow store makes them slow, never /healthz), housekeeping keeps
// the tables bounded, and /readyz tells a balancer whether the store
// answers with the schema this build runs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  startServer, newDb, mkTenant, mkUser, http, loginOk, refresh, pw, sleep, sqliteOnly,
} from '../lib/server.js';
import { sql } from '../lib/faces-helpers.js';

const count = (db, table) => Number(sql(db, `SELECT count(*) FROM ${table};`).trim());

/** Holds SQLite's write lock (BEGIN IMMEDIATE) from a sqlite3 process; readers go on. */
async function holdWriteLock(db) {
  const p = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.setEncoding('utf8');
  p.stdout.on('data', (d) => (out += d));
  p.stdin.write('BEGIN IMMEDIATE;\nINSERT INTO tenants SELECT * FROM tenants WHERE 0;\nSELECT \'locked\';\n');
  for (let i = 0; i < 200 && !out.includes('locked'); i++) await sleep(20);
  assert.ok(out.includes('locked'), 'the sqlite3 process took the write lock');
  return {
    async release() {
      p.stdin.end('ROLLBACK;\n');
      if (p.exitCode === null) await new Promise((r) => p.on('close', r));
    },
  };
}

describe('/readyz [SQLite only: the schema version is changed with PRAGMA user_version]', sqliteOnly('the schema version is changed with PRAGMA user_version', { timeout: 60000 }), () => {
  let db;
  let srv;
  before(async () => {
    db = newDb();
    srv = await startServer({ db });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('200 {status:"ready", schema} when the store answers with the latest schema', async () => {
    const r = await http('GET', srv.url + '/readyz');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'ready');
    assert.equal(r.json.schema, Number(sql(db, 'PRAGMA user_version;').trim()));
  });

  it('503 schema_mismatch with Retry-After when the schema is not the one this build runs; /healthz stays 200', async () => {
    const v = Number(sql(db, 'PRAGMA user_version;').trim());
    sql(db, `PRAGMA user_version = ${v + 1};`);
    try {
      const r = await http('GET', srv.url + '/readyz');
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.code, 'schema_mismatch');
      assert.equal(r.json.schema, v + 1);
      assert.equal(r.json.schema_latest, v);
      assert.match(r.headers['retry-after'], /^[1-9][0-9]*$/);
      assert.equal((await http('GET', srv.url + '/healthz')).status, 200);
    } finally {
      sql(db, `PRAGMA user_version = ${v};`);
    }
    assert.equal((await http('GET', srv.url + '/readyz')).status, 200);
  });
});

describe('store deferral: a store that waits does not stall the event loop [SQLite only: the wait is a write lock held with sqlite3]', sqliteOnly('the wait is a write lock held with sqlite3', { timeout: 60000 }), () => {
  // One event thread: inline, a refresh waiting for the lock would hold it,
  // and /healthz would be answered only after that refresh.
  const run = async (mode) => {
    const db = newDb();
    const P = pw();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'slow@example.com', P);
    const srv = await startServer({
      db,
      dsnOptions: '?busy_timeout=4000',
      args: ['--default-tenant', 'acme', '--http-threads', '1', '--store-defer', mode, '--store-workers', '4'],
    });
    try {
      const sets = [];
      for (let i = 0; i < 3; i++) sets.push(await loginOk(srv, 'slow@example.com', P));
      const lock = await holdWriteLock(db);
      const done = [];
      let refreshes;
      let health;
      try {
        refreshes = sets.map((s, i) => refresh(srv, s.refresh_token).then((r) => {
          done.push(`refresh${i}`);
          return r;
        }));
        await sleep(300); // the refreshes are in, waiting for the write lock
        health = await http('GET', srv.url + '/healthz', { timeout: 10000 });
        done.push('healthz');
      } finally {
        await lock.release();
      }
      const rs = await Promise.all(refreshes);
      return { health, rs, done };
    } finally {
      await srv.stop();
    }
  };

  it('--store-defer always: /healthz answers while three refreshes wait, and they all succeed once the lock is gone', async () => {
    const { health, rs, done } = await run('always');
    assert.equal(health.status, 200);
    assert.equal(done[0], 'healthz', `order of answers: ${done.join(', ')}`);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
  });
});

describe('housekeeping sweep', { timeout: 90000 }, () => {
  it('--sweep-interval 1: after a refresh load and logouts, only the live session and its family are left', async () => {
    const db = newDb();
    const P = pw();
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'load@example.com', P);
    const srv = await startServer({
      db,
      args: ['--default-tenant', 'acme', '--sweep-interval', '1', '--sweep-grace', '0', '--sweep-retention', '0'],
    });
    try {
      // five sessions, ten refreshes each; four of them end
      const ends = [];
      let live;
      for (let s = 0; s < 5; s++) {
        let t = await loginOk(srv, 'load@example.com', P);
        for (let i = 0; i < 10; i++) {
          const r = await refresh(srv, t.refresh_token);
          assert.equal(r.status, 200, r.text);
          t = { ...t, ...r.json };
        }
        if (s < 4) ends.push(t);
        else live = t;
      }
      for (const t of ends) {
        const r = await http('POST', srv.url + '/v1/auth/logout', { token: t.token });
        assert.equal(r.status, 204, r.text);
      }
      // two full sweeps after the logouts
      const seen = srv.events().filter((e) => e.event === 'sweep').length;
      await srv.waitLine(() => srv.events().filter((e) => e.event === 'sweep').length >= seen + 2, 20000);
      // the live family: its 10 spent tokens (reuse still detected) and the live one
      assert.equal(count(db, "secrets WHERE kind = 1"), 11);
      assert.equal(count(db, 'sessions'), 1);
      const swept = srv.events().filter((e) => e.event === 'sweep');
      assert.equal(swept.reduce((n, e) => n + e.secrets_ended, 0), 44, 'the ended sessions\' 4 x 11 refresh tokens');
      assert.equal(swept.reduce((n, e) => n + e.sessions, 0), 4);
      // the live session still works
      const r = await refresh(srv, live.refresh_token);
      assert.equal(r.status, 200, r.text);
    } finally {
      await srv.stop();
    }
  });
});
