// The OpenID Connect provider's tests (issue 11): a server with a
// --public-url (the issuer is <public-url>/t/{slug}), clients made on the
// command line, and validation of every answer against
// docs/openapi/oidc.json — both for our own requests and for those the
// relying party library (openid-client) makes, through its customFetch.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { startServer, cliOk, http, noteSecret } from './server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DOC = 'oidc.json';
export const spec = JSON.parse(fs.readFileSync(path.resolve(here, '../../../docs/openapi', DOC), 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
ajv.addSchema(spec, DOC);
export const stats = { validated: 0 };

const ptr = (...parts) => parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const deref = (obj) => {
  while (obj && obj.$ref) {
    const parts = obj.$ref.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    obj = parts.reduce((o, k) => o[k], spec);
  }
  return obj;
};
function template(pathname) {
  if (spec.paths[pathname]) return pathname;
  for (const tpl of Object.keys(spec.paths)) {
    if (new RegExp('^' + tpl.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+') + '$').test(pathname)) return tpl;
  }
  return null;
}

/** Problems of an answer against docs/openapi/oidc.json (empty: it conforms). */
export function checkOidc(method, pathname, res) {
  const tpl = template(pathname);
  if (!tpl) return [`${pathname} is not in docs/openapi/${DOC}`];
  const op = spec.paths[tpl][method.toLowerCase()];
  if (!op) return [`${method} ${tpl} is not in docs/openapi/${DOC}`];
  const key = String(res.status);
  if (!op.responses[key]) return [`status ${key} of ${method} ${tpl} is not documented; body: ${res.text.slice(0, 300)}`];
  const problems = [];
  const resp = deref(op.responses[key]);
  for (const [name, h0] of Object.entries(resp.headers || {})) {
    const h = deref(h0);
    let val = res.headers[name.toLowerCase()];
    if (val === undefined) {
      if (h.required) problems.push(`required header ${name} missing`);
      continue;
    }
    if (h.schema && h.schema.type === 'integer') val = /^[0-9]+$/.test(val) ? Number(val) : val;
    const v = ajv.compile(h.schema);
    if (!v(val)) problems.push(`header ${name}: ${JSON.stringify(val)} ${ajv.errorsText(v.errors)}`);
  }
  if (!resp.content) {
    if (res.text.length) problems.push(`status ${key} must have no body`);
    return problems;
  }
  if (resp.content['text/html']) {
    if (!/^text\/html\b/i.test(res.headers['content-type'] || '')) problems.push(`Content-Type is ${res.headers['content-type']}, not text/html`);
    return problems;
  }
  if (!/^application\/json\b/i.test(res.headers['content-type'] || '')) problems.push(`Content-Type is ${res.headers['content-type']}`);
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    return [...problems, `body is not JSON: ${res.text.slice(0, 200)}`];
  }
  const shared = op.responses[key].$ref;
  const at = shared ? shared.replace(/^#\//, '') : ptr('paths', tpl, method.toLowerCase(), 'responses', key);
  const v = ajv.compile({ $ref: `${DOC}#/${at}/content/application~1json/schema` });
  if (!v(body)) problems.push(`body does not match: ${ajv.errorsText(v.errors)}\n  body: ${res.text.slice(0, 500)}`);
  return problems;
}

function assertConforms(method, pathname, res) {
  const problems = checkOidc(method, pathname, res);
  if (problems.length) {
    throw new assert.AssertionError({ message: `${method} ${pathname} -> ${res.status}: does not conform to docs/openapi/${DOC}:\n- ${problems.join('\n- ')}` });
  }
  stats.validated++;
}

/** A request of our own to the provider, validated. form: an object sent
 *  as application/x-www-form-urlencoded; basic: [id, secret]. */
export async function oidcHttp(srv, method, pathname, { form, basic, token, headers = {}, body, validate = true } = {}) {
  const h = { ...headers };
  let b = body;
  if (form) {
    h['Content-Type'] = 'application/x-www-form-urlencoded';
    b = new URLSearchParams(form).toString();
  }
  if (basic) {
    const enc = (s) => encodeURIComponent(s);
    h.Authorization = 'Basic ' + Buffer.from(`${enc(basic[0])}:${enc(basic[1])}`).toString('base64');
  }
  const r = await http(method, srv.url + pathname, { headers: h, body: b, token, validate: false });
  if (r.json && typeof r.json === 'object') {
    noteSecret(r.json.access_token);
    noteSecret(r.json.refresh_token);
    noteSecret(r.json.id_token);
  }
  if (validate) assertConforms(method, pathname.split('?')[0], r);
  return r;
}

/** fetch for openid-client (its customFetch): every answer validated. */
export async function validatingFetch(url, options) {
  const res = await fetch(url, options);
  const text = await res.clone().text();
  const headers = Object.fromEntries([...res.headers.entries()].map(([k, v]) => [k.toLowerCase(), v]));
  assertConforms(options?.method ?? 'GET', new URL(url).pathname, { status: res.status, headers, text });
  try {
    const j = JSON.parse(text);
    noteSecret(j.access_token);
    noteSecret(j.refresh_token);
    noteSecret(j.id_token);
  } catch { /* not JSON */ }
  return res;
}

/** A port free right now on the loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A server whose public URL is its own address. */
export async function startOidcServer(db, args = []) {
  const port = await freePort();
  const pub = `http://127.0.0.1:${port}`;
  const srv = await startServer({ db, listen: `127.0.0.1:${port}`, args: ['--public-url', pub, ...args] });
  srv.publicUrl = pub;
  return srv;
}

/** A client made on the command line: { id, secret } (secret null for a public client). */
export async function mkClient(db, tenant, { name = 'app', pub = false, firstParty = false, grants = [], scopes = [], redirects = [], postLogout = [] } = {}) {
  const args = ['client', 'add', '--tenant', tenant, '--name', name];
  if (pub) args.push('--public');
  if (firstParty) args.push('--first-party');
  for (const g of grants) args.push('--grant', g);
  for (const s of scopes) args.push('--scope', s);
  for (const u of redirects) args.push('--redirect-uri', u);
  for (const u of postLogout) args.push('--post-logout-uri', u);
  const [id, secret] = (await cliOk(args, { db })).split('\n');
  noteSecret(secret);
  return { id, secret: secret ?? null };
}
