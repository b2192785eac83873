// Issue 7 item 9: signing keys can be killed (keys revoke) on every node at
// once, verified-token cache included; keys rotate publishes a key before
// it signs with it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newDb, mkTenant, mkUser, cli, cliOk, http, loginOk, me, pw, decodeJwt, sleep,
} from '../lib/server.js';

const jwksKids = async (srv) => {
  const r = await http('GET', srv.url + '/.well-known/jwks.json');
  assert.equal(r.status, 200, r.text);
  return r.json.keys.map((k) => k.kid);
};

/** Polls fn() every 100 ms until it returns true or ms pass; the elapsed ms, or -1. */
async function within(ms, fn) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await fn()) return Date.now() - t0;
    await sleep(100);
  }
  return -1;
}

describe('keys revoke', { timeout: 120000 }, () => {
  const db = newDb();
  const P = pw();
  let a;
  let b;
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'rev@example.com', P);
    // Two nodes on one store: a revocation must reach both.
    a = await startServer({ db, args: ['--default-tenant', 'acme'] });
    b = await startServer({ db, args: ['--default-tenant', 'acme'] });
  });
  after(async () => {
    if (a) await a.stop();
    if (b) await b.stop();
  });

  it('an unknown kid fails with one line and changes nothing', async () => {
    const before = await jwksKids(a);
    const r = await cli(['keys', 'revoke', 'no-such-kid'], { db });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, 'tessera: no signing key no-such-kid\n');
    assert.deepEqual(await jwksKids(a), before);
    const u = await cli(['keys', 'revoke'], { db });
    assert.equal(u.code, 1);
    assert.match(u.stderr, /usage: tessera keys revoke KID/);
  });

  it('a revoked key: its cached tokens are refused on every node within 2 s, its kid leaves the JWKS, a new key signs', async () => {
    const t = await loginOk(a, 'rev@example.com', P);
    const kid = decodeJwt(t.token).header.kid;
    // Verified once on each node, then served from each verified-token cache.
    for (const srv of [a, b, a, b]) assert.equal((await me(srv, t.token)).status, 200);
    assert.ok((await jwksKids(a)).includes(kid));

    const r = await cli(['keys', 'revoke', kid], { db });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `revoked ${kid}\n`);
    // It was the only key able to sign: a new one signs at once, loudly.
    const m = /WARNING: (\S+) was the only key able to sign; new key (\S+) signs from now on/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.equal(m[1], kid);
    const made = m[2];

    for (const srv of [a, b]) {
      const ms = await within(2000, async () => (await me(srv, t.token)).status === 401);
      assert.notEqual(ms, -1, 'a token of the revoked key still passes after 2 s');
      const res = await me(srv, t.token);
      assert.equal(res.status, 401);
      assert.equal(res.json.code, 'invalid_token', res.text);
      const kids = await jwksKids(srv);
      assert.ok(!kids.includes(kid), `revoked kid still published: ${kids}`);
      assert.ok(kids.includes(made), `new kid not published: ${kids}`);
    }
    const n = await loginOk(b, 'rev@example.com', P);
    assert.equal(decodeJwt(n.token).header.kid, made);
    assert.equal((await me(a, n.token)).status, 200);

    // Revoking it again is harmless and makes no further key.
    const again = await cli(['keys', 'revoke', kid], { db });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '');
    assert.ok(!(await jwksKids(a)).includes(kid));
  });

  it('after a restart the revoked key stays dead', async () => {
    const t = await loginOk(a, 'rev@example.com', P);
    const kid = decodeJwt(t.token).header.kid;
    await cliOk(['keys', 'revoke', kid], { db });
    await a.stop();
    a = await startServer({ db, args: ['--default-tenant', 'acme'] });
    assert.equal((await me(a, t.token)).status, 401);
    assert.ok(!(await jwksKids(a)).includes(kid));
  });
});

describe('keys rotate publishes before it signs', { timeout: 120000 }, () => {
  const db = newDb();
  const P = pw();
  let srv;
  before(async () => {
    await mkTenant(db, 'acme');
    await mkUser(db, 'acme', 'rot@example.com', P);
    srv = await startServer({ db, args: ['--default-tenant', 'acme'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  it('the old kid signs until the new key has been published for the delay; every token kid is in the JWKS of that moment', async () => {
    const first = await loginOk(srv, 'rot@example.com', P);
    const oldKid = decodeJwt(first.token).header.kid;
    const DELAY = 2000;
    const t0 = Date.now();
    const r = await cli(['keys', 'rotate', '--key-activation-delay', String(DELAY / 1000)], { db });
    assert.equal(r.code, 0, r.stderr);
    const newKid = r.stdout.trim();
    assert.match(r.stderr, /published now and signs in 2 s/);
    assert.notEqual(newKid, oldKid);

    let switchedAt = -1;
    const seen = [];
    while (Date.now() - t0 < DELAY + 6000) {
      const issuedFrom = Date.now();
      const t = await loginOk(srv, 'rot@example.com', P);
      const issuedBy = Date.now();
      const kid = decodeJwt(t.token).header.kid;
      const kids = await jwksKids(srv);
      seen.push(`${issuedFrom - t0}ms:${kid === oldKid ? 'old' : kid === newKid ? 'new' : kid}`);
      assert.ok(kids.includes(kid), `token kid ${kid} not in the JWKS of that moment ${kids}`);
      assert.ok(kids.includes(newKid), `the new key is published at once: ${kids}`);
      if (kid === newKid) {
        switchedAt = issuedBy - t0;
        break;
      }
      assert.equal(kid, oldKid, `unexpected kid ${kid}`);
      assert.equal((await me(srv, t.token)).status, 200);
      await sleep(150);
    }
    assert.notEqual(switchedAt, -1, `the new key never signed: ${seen.join(' ')}`);
    assert.ok(seen.filter((s) => s.endsWith(':old')).length >= 2, `old key signed during the delay: ${seen.join(' ')}`);
    // A token with the new kid was signed after the delay had passed.
    assert.ok(switchedAt >= DELAY, `new kid after ${switchedAt} ms, before the ${DELAY} ms delay: ${seen.join(' ')}`);
    // The retired key stays published and its tokens valid.
    assert.ok((await jwksKids(srv)).includes(oldKid));
    assert.equal((await me(srv, first.token)).status, 200);
  });
});
