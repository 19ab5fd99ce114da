import crypto from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { KeyRing, generateSecret, newKeyId, type SigningKey } from '../src/auth/key-ring.js';
import { CLOCK_SKEW_SECONDS, MAX_EXP_AHEAD_SECONDS, signToken, verifyToken } from '../src/auth/tokens.js';

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const NOW_S = Math.floor(NOW / 1000);
const SECRET = 'a'.repeat(16) + crypto.randomBytes(16).toString('hex');
const OTHER = 'b'.repeat(16) + crypto.randomBytes(16).toString('hex');
const randomSecret = () => crypto.randomBytes(32).toString('hex');

const key = (id: string, secret: string, createdAt: number, expiresAt: number | null = null): SigningKey => ({ id, secret, createdAt, expiresAt });
const ringOf = (...keys: SigningKey[]) => new KeyRing(keys);
const RING = ringOf(key('k1', SECRET, NOW - 1000));

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
function sign(payload: Record<string, unknown>, secret = SECRET, options: jwt.SignOptions = {}): string {
  return jwt.sign(payload, secret, { algorithm: 'HS256', noTimestamp: true, ...options });
}
/** A token with an arbitrary header, HMAC-SHA256-signed (or unsigned). */
function handmade(header: Record<string, unknown>, payload: Record<string, unknown>, secret?: string): string {
  const body = `${b64(header)}.${b64(payload)}`;
  const signature = secret === undefined ? '' : crypto.createHmac('sha256', secret).update(body).digest('base64url');
  return `${body}.${signature}`;
}
/** An HS256 token signed with SECRET carrying exactly `payload`: jsonwebtoken's sign refuses odd iat and nbf values. */
const claimsToken = (payload: Record<string, unknown>) => handmade({ alg: 'HS256', typ: 'JWT' }, payload, SECRET);

describe('unit: verifyToken (contract §3)', () => {
  it('accepts a valid HS256 token and reports sub, role, exp and the key', () => {
    const result = verifyToken(sign({ sub: 'alice', role: 'service', exp: NOW_S + 60 }), RING, NOW);
    expect(result).to.deep.equal({ ok: true, principal: { sub: 'alice', role: 'service', exp: NOW_S + 60, keyId: 'k1', ver: 0, login: false } });
  });

  it('treats an absent role as user and an absent exp as no expiry', () => {
    const result = verifyToken(sign({ sub: 'bob' }), RING, NOW);
    expect(result).to.deep.equal({ ok: true, principal: { sub: 'bob', role: 'user', exp: undefined, keyId: 'k1', ver: 0, login: false } });
  });

  for (const role of ['admin', 'service', 'user']) {
    it(`accepts role ${role}`, () => {
      const result = verifyToken(sign({ sub: 'x', role }), RING, NOW);
      expect(result.ok && result.principal.role).to.equal(role);
    });
  }

  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const failures: [label: string, token: () => string | undefined | null, code: string][] = [
    ['undefined', () => undefined, 'token_missing'],
    ['null', () => null, 'token_missing'],
    ['an empty string', () => '', 'token_missing'],
    ['garbage', () => 'not-a-jwt', 'token_invalid'],
    ['three garbage segments', () => 'a.b.c', 'token_invalid'],
    ['alg none, unsigned', () => handmade({ alg: 'none', typ: 'JWT' }, { sub: 'alice', role: 'admin' }), 'token_invalid'],
    ['alg none with a valid HS256 signature appended', () => handmade({ alg: 'none', typ: 'JWT' }, { sub: 'alice', role: 'admin' }, SECRET), 'token_invalid'],
    ['alg NONE (case variant)', () => handmade({ alg: 'NONE' }, { sub: 'alice' }), 'token_invalid'],
    ['HS512 with the right secret', () => sign({ sub: 'alice' }, SECRET, { algorithm: 'HS512' }), 'token_invalid'],
    ['HS384 with the right secret', () => sign({ sub: 'alice' }, SECRET, { algorithm: 'HS384' }), 'token_invalid'],
    ['RS256', () => jwt.sign({ sub: 'alice' }, rsa.privateKey, { algorithm: 'RS256' }), 'token_invalid'],
    ['another secret', () => sign({ sub: 'alice', role: 'admin' }, OTHER), 'token_invalid'],
    ['a tampered payload', () => {
      const [h, , s] = sign({ sub: 'alice', role: 'user' }).split('.');
      return `${h}.${b64({ sub: 'alice', role: 'admin' })}.${s}`;
    }, 'token_invalid'],
    ['a missing sub', () => sign({ role: 'service' }), 'token_invalid'],
    ['an empty sub', () => sign({ sub: '' }), 'token_invalid'],
    ['a numeric sub', () => sign({ sub: 42 }), 'token_invalid'],
    ['a sub with a space', () => sign({ sub: 'a b' }), 'token_invalid'],
    ['a sub with a colon', () => sign({ sub: 'user:x' }), 'token_invalid'],
    ['a sub with a comma', () => sign({ sub: 'a,b' }), 'token_invalid'],
    ['a sub with a bracket', () => sign({ sub: '[a]' }), 'token_invalid'],
    ['a sub with a control character', () => sign({ sub: 'a\u0007' }), 'token_invalid'],
    ['a sub of 201 characters', () => sign({ sub: 'x'.repeat(201) }), 'token_invalid'],
    ['an unknown role', () => sign({ sub: 'alice', role: 'root' }), 'token_invalid'],
    ['a role in the wrong case', () => sign({ sub: 'alice', role: 'Admin' }), 'token_invalid'],
    ['a non-string role', () => sign({ sub: 'alice', role: ['admin'] }), 'token_invalid'],
    ['an expired token', () => sign({ sub: 'alice', exp: NOW_S - 1 }), 'token_expired'],
    ['a token expiring exactly now', () => sign({ sub: 'alice', exp: NOW_S }), 'token_expired'],
    ['an expired token signed with another secret', () => sign({ sub: 'alice', exp: NOW_S - 100 }, OTHER), 'token_invalid'],
    ['a non-numeric exp', () => handmade({ alg: 'HS256', typ: 'JWT' }, { sub: 'alice', exp: 'tomorrow' }, SECRET), 'token_invalid'],
    ['an unknown kid, right secret', () => sign({ sub: 'alice' }, SECRET, { keyid: 'nope' }), 'token_invalid'],
    // loose claims (issue 9)
    ['a sub with a zero-width space', () => sign({ sub: 'ad\u200bmin', role: 'admin' }), 'token_invalid'],
    ['a sub with a right-to-left override', () => sign({ sub: 'alice\u202e' }), 'token_invalid'],
    ['a string iat', () => claimsToken({ sub: 'alice', iat: 'yesterday' }), 'token_invalid'],
    ['a numeric-string iat', () => claimsToken({ sub: 'alice', iat: String(NOW_S) }), 'token_invalid'],
    ['a null iat', () => claimsToken({ sub: 'alice', iat: null }), 'token_invalid'],
    ['a negative iat', () => claimsToken({ sub: 'alice', iat: -1 }), 'token_invalid'],
    ['an iat beyond the clock skew', () => claimsToken({ sub: 'alice', iat: NOW_S + CLOCK_SKEW_SECONDS + 1 }), 'token_invalid'],
    ['an iat a year ahead', () => claimsToken({ sub: 'alice', iat: NOW_S + 365 * 86400, exp: NOW_S + 400 * 86400 }), 'token_invalid'],
    ['an iat of 1e300', () => claimsToken({ sub: 'alice', iat: 1e300 }), 'token_invalid'],
    ['a crit header', () => handmade({ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, { sub: 'alice', exp: NOW_S + 60 }, SECRET), 'token_invalid'],
    ['a crit header naming an extension', () => handmade({ alg: 'HS256', crit: ['b64'], b64: false }, { sub: 'alice' }, SECRET), 'token_invalid'],
    ['an empty crit header', () => handmade({ alg: 'HS256', crit: [] }, { sub: 'alice' }, SECRET), 'token_invalid'],
    ['a crit header with a kid', () => sign({ sub: 'alice' }, SECRET, { keyid: 'k1', header: { alg: 'HS256', crit: ['x'] } as jwt.JwtHeader }), 'token_invalid'],
    ['an exp of 1e300', () => sign({ sub: 'alice', exp: 1e300 }), 'token_invalid'],
    ['an exp of Number.MAX_VALUE', () => sign({ sub: 'alice', exp: Number.MAX_VALUE }), 'token_invalid'],
    ['an exp past the ten-year bound', () => sign({ sub: 'alice', exp: NOW_S + MAX_EXP_AHEAD_SECONDS + 1 }), 'token_invalid'],
    ['a string nbf', () => claimsToken({ sub: 'alice', nbf: 'now' }), 'token_invalid'],
    ['an nbf beyond the clock skew', () => sign({ sub: 'alice', nbf: NOW_S + CLOCK_SKEW_SECONDS + 1 }), 'token_invalid'],
    ['an nbf of 1e300', () => sign({ sub: 'alice', nbf: 1e300 }), 'token_invalid'],
    ['a negative nbf', () => sign({ sub: 'alice', nbf: -5 }), 'token_invalid'],
  ];
  for (const [label, token, code] of failures) {
    it(`rejects ${label} as ${code}`, () => {
      expect(verifyToken(token(), RING, NOW)).to.deep.equal({ ok: false, code });
    });
  }

  it('accepts iat and nbf up to the clock skew ahead, and exp up to ten years ahead', () => {
    const hs256 = { alg: 'HS256', typ: 'JWT' };
    const edge = handmade(hs256, { sub: 'alice', iat: NOW_S + CLOCK_SKEW_SECONDS, nbf: NOW_S + CLOCK_SKEW_SECONDS, exp: NOW_S + MAX_EXP_AHEAD_SECONDS }, SECRET);
    expect(verifyToken(edge, RING, NOW)).to.deep.equal({ ok: true, principal: { sub: 'alice', role: 'user', exp: NOW_S + MAX_EXP_AHEAD_SECONDS, keyId: 'k1', ver: 0, login: false } });
    expect(verifyToken(handmade(hs256, { sub: 'alice', iat: 0, nbf: 0 }, SECRET), RING, NOW).ok).to.equal(true);
    // NumericDate may be fractional (RFC 7519 §2)
    expect(verifyToken(handmade(hs256, { sub: 'alice', iat: NOW_S - 0.5, exp: NOW_S + 60.5 }, SECRET), RING, NOW).ok).to.equal(true);
    expect(MAX_EXP_AHEAD_SECONDS).to.be.at.least(10 * 365 * 86400);
    expect(CLOCK_SKEW_SECONDS).to.equal(60);
  });

  it('honours nbf and iat against the clock it is given: a token early by more than the skew works once its time comes', () => {
    const token = handmade({ alg: 'HS256' }, { sub: 'alice', nbf: NOW_S + 120, iat: NOW_S + 120 }, SECRET);
    expect(verifyToken(token, RING, NOW)).to.deep.equal({ ok: false, code: 'token_invalid' });
    expect(verifyToken(token, RING, NOW + 60_000).ok).to.equal(true);
  });

  it('reports an expired token as expired even when its other claims are absurd', () => {
    expect(verifyToken(handmade({ alg: 'HS256' }, { sub: 'alice', exp: NOW_S - 1, iat: 1e300 }, SECRET), RING, NOW)).to.deep.equal({ ok: false, code: 'token_expired' });
  });

  it('honours exp against the clock it is given', () => {
    const token = sign({ sub: 'alice', exp: NOW_S + 10 });
    expect(verifyToken(token, RING, NOW).ok).to.equal(true);
    expect(verifyToken(token, RING, NOW + 9_000).ok).to.equal(true);
    expect(verifyToken(token, RING, NOW + 10_000)).to.deep.equal({ ok: false, code: 'token_expired' });
  });

  describe('kid handling', () => {
    const ring = ringOf(key('new', SECRET, NOW - 100), key('old', OTHER, NOW - 10_000, NOW + 5_000));

    it('without kid tries every valid key', () => {
      const a = verifyToken(sign({ sub: 'a' }, SECRET), ring, NOW);
      const b = verifyToken(sign({ sub: 'b' }, OTHER), ring, NOW);
      expect(a.ok && a.principal.keyId).to.equal('new');
      expect(b.ok && b.principal.keyId).to.equal('old');
    });

    it('with kid uses only that key', () => {
      const ok = verifyToken(sign({ sub: 'a' }, OTHER, { keyid: 'old' }), ring, NOW);
      expect(ok.ok && ok.principal.keyId).to.equal('old');
      // right kid, wrong key's secret
      expect(verifyToken(sign({ sub: 'a' }, SECRET, { keyid: 'old' }), ring, NOW)).to.deep.equal({ ok: false, code: 'token_invalid' });
      expect(verifyToken(sign({ sub: 'a' }, OTHER, { keyid: 'new' }), ring, NOW)).to.deep.equal({ ok: false, code: 'token_invalid' });
    });

    it('rejects a kid whose key has expired, with or without kid', () => {
      const later = NOW + 5_000;
      expect(verifyToken(sign({ sub: 'a' }, OTHER, { keyid: 'old' }), ring, later)).to.deep.equal({ ok: false, code: 'token_invalid' });
      expect(verifyToken(sign({ sub: 'a' }, OTHER), ring, later)).to.deep.equal({ ok: false, code: 'token_invalid' });
      expect(verifyToken(sign({ sub: 'a' }, SECRET, { keyid: 'new' }), ring, later).ok).to.equal(true);
    });

    it('reports token_expired for an expired token under a valid kid', () => {
      expect(verifyToken(sign({ sub: 'a', exp: NOW_S - 5 }, OTHER, { keyid: 'old' }), ring, NOW)).to.deep.equal({ ok: false, code: 'token_expired' });
    });
  });
});

describe('unit: signToken', () => {
  it('signs with the current key, its kid, role user by default, and exp', () => {
    const ring = ringOf(key('old', OTHER, NOW - 10_000, NOW + 5_000), key('cur', SECRET, NOW - 100));
    const token = signToken(ring, { sub: 'alice' }, 3600, NOW);
    const decoded = jwt.decode(token, { complete: true })!;
    expect(decoded.header).to.include({ alg: 'HS256', kid: 'cur' });
    expect(decoded.payload).to.include({ sub: 'alice', role: 'user', exp: NOW_S + 3600 });
    const verified = verifyToken(token, ring, NOW);
    expect(verified).to.deep.equal({ ok: true, principal: { sub: 'alice', role: 'user', exp: NOW_S + 3600, keyId: 'cur', ver: 0, login: false } });
  });

  it('omits exp without a ttl and keeps the role given', () => {
    const token = signToken(RING, { sub: 'ops', role: 'admin' }, undefined, NOW);
    const payload = jwt.decode(token) as jwt.JwtPayload;
    expect(payload).to.include({ sub: 'ops', role: 'admin' });
    expect(payload).to.not.have.property('exp');
  });

  it('carries iat, the issue time it was given (contract §3 claims)', () => {
    expect(jwt.decode(signToken(RING, { sub: 'alice' }, 3600, NOW))).to.have.property('iat', NOW_S);
    expect(jwt.decode(signToken(RING, { sub: 'ops', role: 'admin' }, undefined, NOW))).to.have.property('iat', NOW_S);
  });

  it("carries an account's token version as ver, read back as 0 when absent or not a count", () => {
    const token = signToken(RING, { sub: '@alice', ver: 3 }, 60, NOW);
    expect(jwt.decode(token)).to.have.property('ver', 3);
    expect(verifyToken(token, RING, NOW)).to.deep.include({ ok: true });
    expect((verifyToken(token, RING, NOW) as { principal: { ver: number } }).principal.ver).to.equal(3);
    expect(jwt.decode(signToken(RING, { sub: '@alice', ver: 0, login: false }, 60, NOW))).to.not.have.property('ver');
    for (const ver of [-1, 1.5, '2', null]) {
      const forged = jwt.sign({ sub: '@alice', ver }, SECRET, { algorithm: 'HS256', keyid: 'k1' });
      expect((verifyToken(forged, RING, NOW) as { principal: { ver: number } }).principal.ver, String(ver)).to.equal(0);
    }
  });

  it('refuses to sign with an empty ring', () => {
    expect(() => signToken(new KeyRing([]), { sub: 'a' }, 60, NOW)).to.throw();
  });
});

describe('unit: KeyRing (contract §3, key rotation)', () => {
  it('is empty without keys and has no current key then', () => {
    const ring = new KeyRing([]);
    expect(ring.isEmpty).to.equal(true);
    expect(ring.valid(NOW)).to.deep.equal([]);
    expect(() => ring.current()).to.throw();
  });

  it('signs with the newest unreplaced key, whatever the order given', () => {
    const ring = ringOf(key('a', 's-a', 1, 50), key('c', 's-c', 3), key('b', 's-b', 2, NOW + 10));
    expect(ring.current().id).to.equal('c');
    expect(ring.valid(NOW).map((k) => k.id)).to.deep.equal(['c', 'b']);
    expect(ring.find('a', NOW)).to.equal(undefined);
    expect(ring.find('b', NOW)?.secret).to.equal('s-b');
    expect(ring.find('b', NOW + 10)).to.equal(undefined);
  });

  it('rotates with grace 0: the old key stops at once', () => {
    const { ring, added, retired } = RING.rotate(OTHER, 0, NOW);
    expect(added).to.include({ secret: OTHER, createdAt: NOW, expiresAt: null });
    expect(retired).to.deep.equal([{ ...RING.current(), expiresAt: NOW }]);
    expect(ring.current().id).to.equal(added.id);
    expect(ring.valid(NOW).map((k) => k.id)).to.deep.equal([added.id]);
    expect(verifyToken(sign({ sub: 'a' }), ring, NOW)).to.deep.equal({ ok: false, code: 'token_invalid' });
    expect(verifyToken(sign({ sub: 'a' }, OTHER), ring, NOW).ok).to.equal(true);
    // the original ring is untouched
    expect(RING.current().id).to.equal('k1');
  });

  it('rotates with a grace: the old key works until it ends, then not', () => {
    const { ring, retired } = RING.rotate(OTHER, 30, NOW);
    expect(retired[0]!.expiresAt).to.equal(NOW + 30_000);
    const old = sign({ sub: 'a' });
    expect(verifyToken(old, ring, NOW).ok).to.equal(true);
    expect(verifyToken(old, ring, NOW + 29_999).ok).to.equal(true);
    expect(verifyToken(old, ring, NOW + 30_000)).to.deep.equal({ ok: false, code: 'token_invalid' });
    expect(verifyToken(signToken(ring, { sub: 'a' }, undefined, NOW), ring, NOW + 60_000).ok).to.equal(true);
  });

  it('never lengthens a grace already running, and drops expired keys', () => {
    const first = RING.rotate(randomSecret(), 10, NOW);
    const second = first.ring.rotate(randomSecret(), 1000, NOW + 1_000);
    const byId = new Map(second.ring.valid(NOW + 1_000).map((k) => [k.id, k]));
    expect(byId.get('k1')!.expiresAt).to.equal(NOW + 10_000);
    expect(byId.get(first.added.id)!.expiresAt).to.equal(NOW + 1_001_000);
    expect(second.retired.map((k) => k.id).sort()).to.deep.equal(['k1', first.added.id].sort());
    // a third rotation after k1 ran out no longer carries it
    const third = second.ring.rotate(randomSecret(), 0, NOW + 20_000);
    expect(third.retired.map((k) => k.id).sort()).to.deep.equal([first.added.id, second.added.id].sort());
    expect(third.ring.valid(NOW + 19_999).map((k) => k.id)).to.not.include('k1');
    expect(third.ring.valid(NOW + 20_000).map((k) => k.id)).to.deep.equal([third.added.id]);
  });

  it('can shorten a running grace', () => {
    const first = RING.rotate(randomSecret(), 1000, NOW);
    const second = first.ring.rotate(randomSecret(), 0, NOW + 1);
    expect(second.ring.valid(NOW + 1).map((k) => k.id)).to.deep.equal([second.added.id]);
  });

  it('makes distinct key ids and long random secrets', () => {
    const ids = new Set(Array.from({ length: 50 }, () => newKeyId()));
    expect(ids.size).to.equal(50);
    const secret = generateSecret();
    expect(secret.length).to.be.at.least(32);
    expect(generateSecret()).to.not.equal(secret);
  });
});
