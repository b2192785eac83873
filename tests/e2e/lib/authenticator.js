// A software WebAuthn authenticator on node:crypto, for the black-box
// tests: it answers the JSON options the server sends (as
// parseCreationOptionsFromJSON / parseRequestOptionsFromJSON read them)
// with PublicKeyCredential.toJSON() forms, the way a browser and an
// authenticator together would (WebAuthn Level 3 §5.1, §6.1, §6.5, §8.2,
// §8.7). Every field can be bent for the negative tests.
import crypto from 'node:crypto';

export const ES256 = -7;
export const EDDSA = -8;
export const RS256 = -257;

export const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 };

// ---- CBOR (RFC 8949), the CTAP2 canonical subset: shortest heads,
// definite lengths. Values: integers, Buffers (byte strings), strings,
// arrays, Maps (keys kept in insertion order) and plain objects (text keys),
// booleans; { raw: Buffer } is spliced in as it is. ----
function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

export function cbor(v) {
  if (v && v.raw) return v.raw;
  if (typeof v === 'boolean') return Buffer.from([v ? 0xf5 : 0xf4]);
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([head(3, b.length), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, x]) => [cbor(k), cbor(x)])]);
}

const b64u = (b) => Buffer.from(b).toString('base64url');
const sha256 = (b) => crypto.createHash('sha256').update(b).digest();

// ---- keys ----
function newKey(alg) {
  if (alg === ES256) return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (alg === EDDSA) return crypto.generateKeyPairSync('ed25519');
  if (alg === RS256) return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  throw new Error(`no such alg ${alg}`);
}

/** The COSE_Key of a public key (RFC 9053 §7.1, RFC 8230 §4). */
export function coseKey(publicKey, alg, coseAlg = alg) {
  const j = publicKey.export({ format: 'jwk' });
  const m = new Map();
  if (alg === ES256) {
    m.set(1, 2).set(3, coseAlg).set(-1, 1).set(-2, Buffer.from(j.x, 'base64url')).set(-3, Buffer.from(j.y, 'base64url'));
  } else if (alg === EDDSA) {
    m.set(1, 1).set(3, coseAlg).set(-1, 6).set(-2, Buffer.from(j.x, 'base64url'));
  } else {
    m.set(1, 3).set(3, coseAlg).set(-1, Buffer.from(j.n, 'base64url')).set(-2, Buffer.from(j.e, 'base64url'));
  }
  return cbor(m);
}

function sign(alg, privateKey, data) {
  if (alg === ES256) return crypto.sign('sha256', data, { key: privateKey, dsaEncoding: 'der' });
  if (alg === EDDSA) return crypto.sign(null, data, privateKey);
  return crypto.sign('sha256', data, privateKey);
}

function authData(rpId, flags, counter, attested, ext) {
  const c = Buffer.alloc(4);
  c.writeUInt32BE(counter >>> 0);
  return Buffer.concat([sha256(Buffer.from(rpId)), Buffer.from([flags]), c, attested ?? Buffer.alloc(0), ext ?? Buffer.alloc(0)]);
}

/**
 * One authenticator. opts: alg (ES256, EDDSA, RS256), fmt ('none' |
 * 'packed': self attestation), uv (it verifies users: UV set), be/bs (the
 * backup flags it reports), transports.
 */
export class SoftAuthenticator {
  constructor({ alg = ES256, fmt = 'none', uv = true, be = false, bs = false, transports = ['usb'] } = {}) {
    Object.assign(this, { alg, fmt, uv, be, bs, transports });
    this.creds = new Map(); // b64url id -> { id, keys, rpId, userHandle, counter, alg }
  }

  flags(extra = 0) {
    return FLAG.UP | (this.uv ? FLAG.UV : 0) | (this.be ? FLAG.BE : 0) | (this.bs ? FLAG.BS : 0) | extra;
  }

  /**
   * navigator.credentials.create() with the server's publicKey options.
   * t (tamper): origin, type, challenge (b64url), rpId (for the hash),
   * flags, idLen, coseAlg (the alg label in the key), attAlg (packed's
   * alg), fmt, clientData (a string used as is), attObj (Buffer used as
   * is), authData (Buffer used as is), counter, ext (extension map, sets ED).
   */
  create(pk, t = {}) {
    const rpId = t.rpId ?? pk.rp.id;
    const keys = newKey(this.alg);
    const id = t.id ?? crypto.randomBytes(t.idLen ?? 32);
    const counter = t.counter ?? 0;
    const cdj = Buffer.from(
      t.clientData ??
        JSON.stringify({
          type: t.type ?? 'webauthn.create',
          challenge: t.challenge ?? pk.challenge,
          origin: t.origin,
          crossOrigin: false,
        }),
    );
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(id.length & 0xffff);
    const attested = Buffer.concat([Buffer.alloc(16), idLen, id, t.cose ?? coseKey(keys.publicKey, this.alg, t.coseAlg ?? this.alg)]);
    const ext = t.ext ? cbor(t.ext) : null;
    const flags = t.flags ?? this.flags(FLAG.AT | (ext ? FLAG.ED : 0));
    const ad = t.authData ?? authData(rpId, flags, counter, attested, ext);
    const fmt = t.fmt ?? this.fmt;
    let attStmt = {};
    if (fmt === 'packed') {
      attStmt = new Map([
        ['alg', t.attAlg ?? this.alg],
        ['sig', sign(this.alg, keys.privateKey, Buffer.concat([ad, sha256(cdj)]))],
      ]);
    }
    const attObj = t.attObj ?? cbor(new Map([['fmt', fmt], ['attStmt', attStmt], ['authData', ad]]));
    const userHandle = Buffer.from(pk.user.id, 'base64url');
    this.creds.set(b64u(id), { id, keys, rpId, userHandle, counter, alg: this.alg });
    return {
      id: b64u(id),
      rawId: b64u(id),
      type: 'public-key',
      authenticatorAttachment: 'cross-platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64u(cdj),
        attestationObject: b64u(attObj),
        transports: this.transports,
      },
    };
  }

  /** The id (b64url) of the newest credential. */
  get lastId() {
    return [...this.creds.keys()].at(-1);
  }

  /**
   * navigator.credentials.get() with the server's publicKey options. t:
   * credId (b64url; default: the first allowed one we hold, else the
   * newest), origin, type, challenge, rpId, flags, counter (default: one
   * more than last time), userHandle (Buffer, or null to leave it out),
   * signWith (another SoftAuthenticator credential {keys, alg}),
   * clientData, authData, signature (Buffers used as is).
   */
  get(pk, t = {}) {
    const allowed = (pk.allowCredentials ?? []).map((c) => c.id).filter((i) => this.creds.has(i));
    const credId = t.credId ?? allowed[0] ?? this.lastId;
    const c = this.creds.get(credId);
    if (!c) throw new Error('the authenticator holds no such credential');
    const rpId = t.rpId ?? pk.rpId ?? c.rpId;
    const counter = t.counter ?? c.counter + 1;
    if (t.counter === undefined) c.counter = counter;
    const cdj = Buffer.from(
      t.clientData ??
        JSON.stringify({
          type: t.type ?? 'webauthn.get',
          challenge: t.challenge ?? pk.challenge,
          origin: t.origin,
          crossOrigin: false,
        }),
    );
    const ad = t.authData ?? authData(rpId, t.flags ?? this.flags(), counter);
    const signer = t.signWith ?? c;
    const sig = t.signature ?? sign(signer.alg, signer.keys.privateKey, Buffer.concat([ad, sha256(cdj)]));
    const uh = t.userHandle === null ? null : (t.userHandle ?? c.userHandle);
    return {
      id: credId,
      rawId: credId,
      type: 'public-key',
      authenticatorAttachment: 'cross-platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64u(cdj),
        authenticatorData: b64u(ad),
        signature: b64u(sig),
        ...(uh ? { userHandle: b64u(uh) } : {}),
      },
    };
  }
}
