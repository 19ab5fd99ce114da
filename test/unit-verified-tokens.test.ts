import { expect } from 'chai';
import { VerifiedTokens } from '../src/auth/verified-tokens.js';
import type { Principal } from '../src/auth/tokens.js';

describe('unit: VerifiedTokens', () => {
  const principal = (exp: number | undefined, keyId = 'k1'): Principal => ({ sub: 'svc', role: 'service', exp, keyId, ver: 0, login: false });
  const always = () => true;

  it('answers for a token it was told about, while its exp and key hold', () => {
    const cache = new VerifiedTokens();
    cache.set('t1', principal(100));
    expect(cache.get('t1', 99_000, always)).to.deep.equal(principal(100));
    expect(cache.get('t2', 99_000, always)).to.equal(undefined);
  });

  it('forgets a token once its exp has passed', () => {
    const cache = new VerifiedTokens();
    cache.set('t1', principal(100));
    expect(cache.get('t1', 100_000, always)).to.equal(undefined);
    expect(cache.get('t1', 50_000, always), 'forgotten, not merely refused').to.equal(undefined);
  });

  it('forgets a token whose key is no longer valid', () => {
    const cache = new VerifiedTokens();
    cache.set('t1', principal(undefined, 'old'));
    expect(cache.get('t1', 0, (keyId) => keyId !== 'old')).to.equal(undefined);
    expect(cache.get('t1', 0, always)).to.equal(undefined);
  });

  it('keeps tokens without exp until their key retires', () => {
    const cache = new VerifiedTokens();
    cache.set('t1', principal(undefined));
    expect(cache.get('t1', Number.MAX_SAFE_INTEGER, always)).to.deep.equal(principal(undefined));
  });
});
