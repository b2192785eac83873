// Validates native API responses against docs/openapi/native.json (OpenAPI
// 3.1, whose schemas are JSON Schema 2020-12): status documented for the
// operation, Content-Type, required headers, body schema (formats checked).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DOC_PATH = path.resolve(here, '../../../docs/openapi/native.json');
// validation may use another copy of the document (for debugging the suite)
const VALIDATE_PATH = process.env.TESSERA_E2E_DOC || DOC_PATH;
export const docText = fs.readFileSync(DOC_PATH, 'utf8');
export const doc = JSON.parse(fs.readFileSync(VALIDATE_PATH, 'utf8'));

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
ajv.addSchema(doc, 'native.json');

const ptr = (...parts) => parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const cache = new Map();
function validatorFor(pointer) {
  let v = cache.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `native.json#/${pointer}` });
    cache.set(pointer, v);
  }
  return v;
}

function deref(obj) {
  while (obj && obj.$ref) {
    const parts = obj.$ref.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    obj = parts.reduce((o, k) => o[k], doc);
  }
  return obj;
}

/** The path template of the document a concrete path matches, or null. */
export function findPath(pathname) {
  if (doc.paths[pathname]) return pathname;
  for (const tpl of Object.keys(doc.paths)) {
    if (!tpl.includes('{')) continue;
    const re = new RegExp('^' + tpl.replace(/\{[^}]+\}/g, '[^/]+') + '$');
    if (re.test(pathname)) return tpl;
  }
  return null;
}

/**
 * Returns a list of problems (empty when the response conforms). Paths the
 * document does not list give null (not validated).
 * res: {status, headers (lower-case names -> string), text}
 */
export function checkResponse(method, pathname, res) {
  const tpl = findPath(pathname);
  if (!tpl) return null;
  const problems = [];
  const m = method.toLowerCase();
  const op = doc.paths[tpl][m];
  if (!op) {
    problems.push(`${method} ${tpl} is not a documented operation (answered ${res.status})`);
    return problems;
  }
  const key = op.responses[String(res.status)] ? String(res.status) : op.responses.default ? 'default' : null;
  if (!key) {
    problems.push(`status ${res.status} is not documented for ${method} ${tpl} (documented: ${Object.keys(op.responses).join(', ')}); body: ${res.text.slice(0, 300)}`);
    return problems;
  }
  const resp = deref(op.responses[key]);
  // Cache-Control: no-store unless the response documents its own
  const documentsCC = Object.keys(resp.headers || {}).some((h) => h.toLowerCase() === 'cache-control');
  const cc = res.headers['cache-control'];
  if (!documentsCC && (!cc || !/\bno-store\b/.test(cc))) problems.push(`Cache-Control is ${JSON.stringify(cc)}, not no-store`);
  for (const [name, h0] of Object.entries(resp.headers || {})) {
    const h = deref(h0);
    const val = res.headers[name.toLowerCase()];
    if (val === undefined) {
      if (h.required) problems.push(`required header ${name} missing`);
      continue;
    }
    if (h.schema) {
      const v = ajv.compile(h.schema);
      if (!v(val)) problems.push(`header ${name}: ${JSON.stringify(val)} ${ajv.errorsText(v.errors)}`);
    }
  }
  if (!resp.content) {
    if (res.text.length) problems.push(`status ${res.status} must have no body, got ${JSON.stringify(res.text.slice(0, 200))}`);
    return problems;
  }
  const ct = res.headers['content-type'] || '';
  if (!/^application\/json\b/i.test(ct)) problems.push(`Content-Type is ${JSON.stringify(ct)}, not application/json`);
  let body;
  try {
    body = JSON.parse(res.text);
  } catch (e) {
    problems.push(`body is not JSON: ${JSON.stringify(res.text.slice(0, 200))}`);
    return problems;
  }
  const v = validatorFor(ptr('paths', tpl, m, 'responses', key) + '/content/application~1json/schema');
  if (!v(body)) {
    problems.push(
      `body does not match the ${res.status} schema of ${method} ${tpl}: ` +
        v.errors.map((e) => `${e.instancePath || '/'} ${e.message}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}`).join('; ') +
        `\n  body: ${res.text.slice(0, 500)}`,
    );
  }
  return problems;
}

/** Compiles every response schema once: a broken document fails early. */
export function compileAll() {
  const out = [];
  for (const [tpl, item] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(item)) {
      if (!op || !op.responses) continue;
      for (const key of Object.keys(op.responses)) {
        const resp = deref(op.responses[key]);
        if (resp.content) {
          validatorFor(ptr('paths', tpl, m, 'responses', key) + '/content/application~1json/schema');
          out.push(`${m.toUpperCase()} ${tpl} ${key}`);
        }
      }
    }
  }
  return out;
}
