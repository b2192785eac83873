// Prometheus metrics (issue 12): the exposition on --metrics-listen only
// (never the API's port), parsed by the reference parser (Debian's
// python3-prometheus-client), and counters that move by exactly what a
// scripted mix of requests sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, newDb, mkTenant, mkUser, pw, rnd, http, loginOk, login, me, ON_PG, cli, tmpDir,
} from '../lib/server.js';

// Debian's python3 (the package is installed for it, not for a pyenv one).
const PY = '/usr/bin/python3';
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
types = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    types[fam.name] = fam.type
    for s in fam.samples:
        key = s.name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items())) + "}"
        if key in out:
            raise SystemExit("duplicate series " + key)
        out[key] = s.value
print(json.dumps({"samples": out, "types": types}))
`;

/** Scrapes srv's metrics listener; {text, samples, types, headers}. */
async function scrape(port) {
  const r = await http('GET', `http://127.0.0.1:${port}/metrics`, { validate: false });
  assert.equal(r.status, 200, r.text);
  const p = spawnSync(PY, ['-c', PARSE], { input: r.text, encoding: 'utf8' });
  assert.equal(p.status, 0, `the exposition does not parse:\n${p.stderr}\n${r.text.slice(0, 2000)}`);
  return { text: r.text, headers: r.headers, ...JSON.parse(p.stdout) };
}

/** The value of a series (labels in any order), 0 when absent. */
function val(m, name, labels = {}) {
  const key = `${name}{${Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`).join(',')}}`;
  return m.samples[key] ?? 0;
}

function metricsPort(srv) {
  const ev = srv.events().find((e) => e.event === 'metrics_listening');
  assert.ok(ev, 'no metrics_listening line');
  return ev.port;
}

async function metricsServer(extra = {}) {
  const db = newDb();
  const slug = `m${rnd(6)}`;
  await mkTenant(db, slug);
  const email = `u${rnd(6)}@example.com`;
  const pass = pw();
  await mkUser(db, slug, email, pass);
  const srv = await startServer({
    db, ...extra,
    args: ['--metrics-listen', '127.0.0.1:0', '--default-tenant', slug, ...(extra.args ?? [])],
  });
  return { srv, email, pass, port: metricsPort(srv) };
}

test('a scripted mix moves every counter by exactly what was sent; the exposition parses', async () => {
  const { srv, email, pass, port } = await metricsServer();
  try {
    const a = await scrape(port);
    assert.match(a.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    assert.equal(a.types.tessera_http_requests, 'counter');
    assert.equal(a.types.tessera_http_request_duration_seconds, 'histogram');
    assert.equal(val(a, 'tessera_build_info', { version: '0.1.0' }), 1);

    for (let i = 0; i < 3; i++) assert.equal((await http('GET', `${srv.url}/healthz`)).status, 200);
    const t1 = await loginOk(srv, email, pass);
    await loginOk(srv, email, pass);
    assert.equal((await login(srv, email, 'wrong-password')).status, 401);
    for (let i = 0; i < 4; i++) assert.equal((await me(srv, t1.token)).status, 200);
    assert.equal((await me(srv, 'not-a-token')).status, 401);
    assert.equal((await http('GET', `${srv.url}/no/such/path`, { validate: false })).status, 404);
    const px = await http('POST', `${srv.url}/px0/v1/auth/login`, { json: { email, password: pass }, validate: false });
    assert.equal(px.status, 200, px.text);
    // The metrics are not on the API's port.
    assert.equal((await http('GET', `${srv.url}/metrics`, { validate: false })).status, 404);

    const b = await scrape(port);
    const d = (name, labels) => val(b, name, labels) - val(a, name, labels);
    const req = (route, face, status) => d('tessera_http_requests_total', { route, face, status });
    assert.equal(req('/healthz', 'native', '200'), 3);
    assert.equal(req('/v1/auth/login', 'native', '200'), 2);
    assert.equal(req('/v1/auth/login', 'native', '401'), 1);
    assert.equal(req('/v1/auth/me', 'native', '200'), 4);
    assert.equal(req('/v1/auth/me', 'native', '401'), 1);
    assert.equal(req('/v1/auth/login', 'px0', '200'), 1);
    assert.equal(req('unmatched', 'none', '404'), 2); // /no/such/path and /metrics
    const count = (route, face) => d('tessera_http_request_duration_seconds_count', { route, face });
    assert.equal(count('/healthz', 'native'), 3);
    assert.equal(count('/v1/auth/login', 'native'), 3);
    assert.equal(count('/v1/auth/me', 'native'), 5);
    assert.equal(d('tessera_http_request_duration_seconds_bucket', { route: '/v1/auth/me', face: 'native', le: '+Inf' }), 5);
    assert.ok(d('tessera_http_request_duration_seconds_sum', { route: '/v1/auth/login', face: 'native' }) > 0);
    const logins = (face, result) => d('tessera_logins_total', { face, result });
    assert.equal(logins('native', 'ok'), 2);
    assert.equal(logins('native', 'credentials'), 1);
    assert.equal(logins('px0', 'ok'), 1);
    assert.equal(logins('admin', 'ok'), 0);
    // Every login waited once in the hashing queue.
    assert.equal(d('tessera_pool_wait_seconds_count', { pool: 'hash' }), 4);
    assert.equal(val(b, 'tessera_pool_queue_depth', { pool: 'hash' }), 0);
    const backend = ON_PG ? 'postgres' : 'sqlite';
    assert.ok(d('tessera_store_op_duration_seconds_count', { backend }) > 0);
    assert.equal(d('tessera_store_op_duration_seconds_count', { backend: ON_PG ? 'sqlite' : 'postgres' }), 0);
    assert.equal(d('tessera_store_errors_total', { backend, kind: 'internal' }), 0);
    assert.equal(d('tessera_store_errors_total', { backend, kind: 'unavailable' }), 0);
    assert.equal(val(b, 'tessera_mail_outbox_depth'), 0);
    // Bounded labels: no raw path, email or token anywhere.
    assert.doesNotMatch(b.text, /no\/such|@example\.com|not-a-token/);
    for (const k of Object.keys(b.samples)) {
      const m = /route="([^"]*)"/.exec(k);
      if (m) assert.ok(m[1] === 'unmatched' || m[1].startsWith('/'), k);
    }
  } finally {
    await srv.stop();
  }
});

test('rate-limit refusals, account locks and their login results are counted', async () => {
  const { srv, email, pass, port } = await metricsServer({
    rateLimits: false,
    args: ['--lock-after', '2', '--rl-ip-burst', '4', '--rl-ip-per-min', '1', '--rl-account-burst', '100'],
  });
  try {
    const a = await scrape(port);
    assert.equal((await login(srv, email, 'wrong-1')).status, 401);
    assert.equal((await login(srv, email, 'wrong-2')).status, 401); // locks the account
    assert.equal((await login(srv, email, pass)).status, 429);      // locked
    assert.equal((await login(srv, email, pass)).status, 429);      // locked
    assert.equal((await login(srv, email, pass)).status, 429);      // the address's bucket is empty
    const b = await scrape(port);
    const d = (name, labels) => val(b, name, labels) - val(a, name, labels);
    assert.equal(d('tessera_logins_total', { face: 'native', result: 'credentials' }), 2);
    assert.equal(d('tessera_logins_total', { face: 'native', result: 'locked' }), 2);
    assert.equal(d('tessera_logins_total', { face: 'native', result: 'rate_address' }), 1);
    assert.equal(d('tessera_logins_total', { face: 'native', result: 'ok' }), 0);
    assert.equal(d('tessera_locks_total', { kind: 'account' }), 1);
    assert.equal(d('tessera_ratelimit_refusals_total', { scope: 'address' }), 1);
    assert.equal(d('tessera_ratelimit_refusals_total', { scope: 'account' }), 0);
    assert.equal(d('tessera_http_requests_total', { route: '/v1/auth/login', face: 'native', status: '429' }), 3);
  } finally {
    await srv.stop();
  }
});

test('the metrics listener: only GET/HEAD /metrics; off unless --metrics-listen is set', async () => {
  const { srv, port } = await metricsServer();
  try {
    assert.equal((await http('GET', `http://127.0.0.1:${port}/`, { validate: false })).status, 404);
    assert.equal((await http('GET', `http://127.0.0.1:${port}/v1/auth/me`, { validate: false })).status, 404);
    const post = await http('POST', `http://127.0.0.1:${port}/metrics`, { body: 'x', validate: false });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const head = await http('HEAD', `http://127.0.0.1:${port}/metrics`, { validate: false });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(srv.events().filter((e) => e.event === 'metrics_public').length, 0);
    // A busy metrics port stops a second server before it touches a store.
    const db = path.join(tmpDir(), 'never.db');
    const r = await cli(['serve', '--listen', '127.0.0.1:0', '--metrics-listen', `127.0.0.1:${port}`], { db });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `tessera: cannot listen for metrics on 127.0.0.1:${port}: Address already in use`);
    assert.equal(fs.existsSync(db), false);
  } finally {
    await srv.stop();
  }
  const plain = await startServer();
  try {
    assert.equal(plain.events().filter((e) => e.event === 'metrics_listening').length, 0);
    assert.equal((await http('GET', `${plain.url}/metrics`, { validate: false })).status, 404);
  } finally {
    await plain.stop();
  }
});
