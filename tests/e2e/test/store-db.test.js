// Issue 8 item 1: `tessera db migrate` and `tessera db status` on both
// backends; status creates and migrates nothing; the DSN's password never
// appears in any output (cli() rejects any noted secret it sees). The
// PostgreSQL cases need TESSERA_PG_DSN (scripts/test.sh starts a cluster
// with scripts/pg.sh and exports it).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { newSqliteDb, cli, cliOk, noteSecret, rnd } from '../lib/server.js';

const PG = process.env.TESSERA_PG_DSN;
const VERSION_RE = /^current (\d+)\nlatest (\d+)$/;

describe('db status and db migrate on SQLite', () => {
  it('status on a missing file fails and creates nothing', async () => {
    const db = newSqliteDb();
    const r = await cli(['db', 'status', '--db', `sqlite:${db}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no database at /);
    assert.equal(fs.existsSync(db), false);
  });

  it('migrate creates the schema; status then reports it current', async () => {
    const db = newSqliteDb();
    const m = (await cliOk(['db', 'migrate', '--db', `sqlite:${db}`])).match(VERSION_RE);
    assert.ok(m, 'migrate prints current and latest');
    assert.equal(m[1], m[2]);
    assert.ok(Number(m[2]) >= 5);
    const s = (await cliOk(['db', 'status', '--db', `sqlite:${db}`])).match(VERSION_RE);
    assert.deepEqual(s.slice(1), m.slice(1));
  });

  it('status does not migrate an old file', async () => {
    const db = newSqliteDb();
    execFileSync('sqlite3', [db, 'CREATE TABLE x(y); PRAGMA user_version = 1;']);
    const s = (await cliOk(['db', 'status', '--db', db])).match(VERSION_RE);
    assert.equal(s[1], '1');
    const again = (await cliOk(['db', 'status', '--db', db])).match(VERSION_RE);
    assert.equal(again[1], '1');
  });
});

/** The admin DSN pointed at database name. */
function dsnFor(name) {
  const u = new URL(PG);
  u.pathname = `/${name}`;
  return u.toString();
}

function psql(sql) {
  execFileSync('psql', [PG, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('db status and db migrate on PostgreSQL', { skip: !PG && 'TESSERA_PG_DSN not set' }, () => {
  const made = [];
  const fresh = () => {
    const name = `e2e_${rnd(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
    psql(`CREATE DATABASE ${name}`);
    made.push(name);
    return dsnFor(name);
  };
  after(() => {
    for (const n of made) {
      try { psql(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`); } catch {}
    }
  });
  if (PG) noteSecret(decodeURIComponent(new URL(PG).password));

  it('status on an empty database says 0 and creates nothing', async () => {
    const db = fresh();
    const s = (await cliOk(['db', 'status', '--db', db])).match(VERSION_RE);
    assert.equal(s[1], '0');
    const r = await cli(['tenant', 'list', '--db', db]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no Tessera schema in postgres:\/\/[^:@/]+@/);
    assert.match(r.stderr, /:\*\*\*@/);             // --db echoed without its password
    const again = (await cliOk(['db', 'status', '--db', db])).match(VERSION_RE);
    assert.equal(again[1], '0');
  });

  it('migrate, then the tenant commands work on it', async () => {
    const db = fresh();
    const m = (await cliOk(['db', 'migrate', '--db', db])).match(VERSION_RE);
    assert.equal(m[1], m[2]);
    await cliOk(['tenant', 'add', 'acme', '--domain', 'Auth.Acme.Example', '--db', db]);
    const list = await cliOk(['tenant', 'list', '--db', db]);
    assert.match(list, /^acme [0-9a-f-]{36} auth\.acme\.example$/);
    // postgresql:// is the same backend
    const alt = db.replace(/^postgres:/, 'postgresql:');
    const s = (await cliOk(['db', 'status', '--db', alt])).match(VERSION_RE);
    assert.deepEqual(s.slice(1), m.slice(1));
  });

  it('a wrong password is named nowhere', async () => {
    const u = new URL(fresh());
    const wrong = `Wr0ng-${rnd(12)}`;
    noteSecret(wrong);
    u.password = wrong;
    const r = await cli(['db', 'status', '--db', u.toString()]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /password authentication failed/);
    assert.doesNotMatch(r.stderr, new RegExp(wrong));
  });
});
