// The authorization code flow in a real browser (issue 11): Debian's
// Chromium through playwright-core opens an openid-client authorization
// URL, is sent to the hosted sign-in page, signs in with a password and a
// TOTP second factor, and comes back to the app's redirect URI (caught by
// the browser context: the app is not there) with code, state and iss;
// openid-client exchanges the code and jose checks the ID token. Then a
// client that is not first-party: the consent page's Allow, the consent
// listed on the account page, and its Revoke button.
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
let third;
let totp;

before(async () => {
  const db = newDb();
  await mkTenant(db, T);
  await mkUser(db, T, EMAIL, PASSWORD);
  spa = await mkClient(db, T, { name: 'spa', pub: true, firstParty: true, redirects: [CB] });
  third = await mkClient(db, T, { name: 'Third App', redirects: [CB] });
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

test('Chromium: authorize → hosted sign-in with password and TOTP → back with the code; openid-client gets the tokens; a consent given, then revoked on the account page', { timeout: 60000 }, async () => {
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
  let seen = null;
  const callback = () => new Promise((resolve) => { seen = resolve; });
  context.on('request', (req) => {
    if (req.url().startsWith('https://app.example/') && seen) { seen(new URL(req.url())); seen = null; }
  });
  const came = callback();
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

  // a client that is not first-party: the consent page, Allow
  const tconf = await client.discovery(new URL(issuer), third.id, third.secret, client.ClientSecretBasic(third.secret),
    { execute: [client.allowInsecureRequests], [client.customFetch]: validatingFetch });
  const turl = client.buildAuthorizationUrl(tconf, { redirect_uri: CB, scope: 'openid email', state: 'third' });
  const back2 = callback();
  // a fresh tab of the same browser (the first one is still on its way
  // to the app's unreachable callback)
  const tab = await context.newPage();
  tab.setDefaultTimeout(8000);
  await tab.goto(turl.href, { waitUntil: 'domcontentloaded' });
  await tab.waitForSelector('text=Allow Third App?');
  await tab.click('button[value="allow"]');
  const cb2 = await back2;
  assert.equal(cb2.searchParams.get('state'), 'third');
  assert.ok(cb2.searchParams.get('code'));
  noteSecret(cb2.searchParams.get('code'));
  // listed on the account page (another tab: this one is on its way to
  // the callback); Revoke takes it away
  const acct = await context.newPage();
  acct.setDefaultTimeout(8000);
  await acct.goto(`${base}/ui/account`, { waitUntil: 'domcontentloaded' });
  const item = acct.locator(`#consents li[data-client="${third.id}"]`);
  await item.waitFor();
  assert.match(await item.textContent(), /^Third App: openid email · since /);
  assert.equal(await acct.locator('#consents-none').isHidden(), true);
  await item.locator('button').click();
  await item.waitFor({ state: 'detached' });
  await acct.waitForSelector('#consent-ok:has-text("Revoked.")');
  assert.equal(await acct.locator('#consents li').count(), 0);
  assert.equal(await acct.locator('#consents-none').isVisible(), true);
  // and the next authorization asks again
  await acct.goto(turl.href, { waitUntil: 'domcontentloaded' });
  await acct.waitForSelector('text=Allow Third App?');
  await context.close();
});
