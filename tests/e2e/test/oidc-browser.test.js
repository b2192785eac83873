// The authorization code flow in a real browser (issue 11): Debian's
// Chromium through playwright-core opens an openid-client authorization
// URL, is sent to the hosted sign-in page, signs in with a password and a
// TOTP second factor, and comes back to the app's redirect URI (caught by
// the browser context: the app is not there) with code, state and iss;
// openid-client exchanges the code and jose checks the ID token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { chromium } from 'playwright-core';
import * as client from 'openid-client';
import * as jose from 'jose';
import { startServer, newDb, mkTenant, mkUser, noteSecret } from '../lib/server.js';
import { enrollTotp, codeAt, stepNow } from '../lib/faces-helpers.js';
import { freePort, mkClient, validatingFetch } from '../lib/oidc-helpers.js';

const sfx = crypto.randomBytes(3).toString('hex');
const T = `br-${sfx}`;
const CB = 'https://app.example/cb';
const EMAIL = `ann-${sfx}@example.com`;
const PASSWORD = 'correct horse battery ' + crypto.randomBytes(6).toString('hex');

let srv;
let browser;
let base;
let spa;
let totp;

before(async () => {
  const db = newDb();
  await mkTenant(db, T);
  await mkUser(db, T, EMAIL, PASSWORD);
  spa = await mkClient(db, T, { name: 'spa', pub: true, firstParty: true, redirects: [CB] });
  const port = await freePort();
  base = `http://localhost:${port}`;
  srv = await startServer({ db, listen: `127.0.0.1:${port}`, args: ['--public-url', base, '--default-tenant', T] });
  totp = await enrollTotp(srv, EMAIL, PASSWORD);
  noteSecret(totp.secret);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

test('Chromium: authorize → hosted sign-in with password and TOTP → back with the code; openid-client gets the tokens', { timeout: 60000 }, async () => {
  const issuer = `${base}/t/${T}`;
  const config = await client.discovery(new URL(issuer), spa.id, undefined, client.None(),
    { execute: [client.allowInsecureRequests], [client.customFetch]: validatingFetch });
  config[client.customFetch] = validatingFetch;
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: CB, scope: 'openid email', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  // the app's callback: seen as the browser asks for it (the app is not
  // there; a route does not catch the end of a redirect)
  const came = new Promise((resolve) => {
    context.on('request', (req) => {
      if (req.url().startsWith('https://app.example/')) resolve(new URL(req.url()));
    });
  });
  await page.goto(url.href, { waitUntil: 'domcontentloaded' });
  assert.match(page.url(), new RegExp(`^${base}/ui/login\\?`));
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await page.click('#login-submit');
  await page.waitForURL(new RegExp(`^${base}/ui/mfa`));
  // a code of a step after the enrolment's (the factor refuses replays)
  let step = stepNow();
  if (step <= totp.step) {
    await new Promise((r) => setTimeout(r, (totp.step + 1) * 30000 - Date.now() + 1500));
    step = stepNow();
  }
  await page.fill('#code', codeAt(totp.secret, step));
  await page.click('#code-submit');
  const back = await came;
  assert.equal(`${back.origin}${back.pathname}`, CB, 'the browser came back to the redirect URI');
  assert.equal(back.searchParams.get('state'), state);
  assert.equal(back.searchParams.get('iss'), issuer);
  noteSecret(back.searchParams.get('code'));
  const t = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const keys = jose.createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const { payload } = await jose.jwtVerify(t.id_token, keys, { issuer, audience: spa.id });
  assert.equal(payload.email, EMAIL);
  assert.deepEqual(payload.amr, ['pwd', 'otp']);
  assert.equal(payload.acr, '2', 'a second factor');
  assert.equal(payload.nonce, nonce);
  await context.close();
});
