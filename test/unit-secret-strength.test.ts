import crypto from 'node:crypto';
import { expect } from 'chai';
import { MIN_SECRET_CHARACTERS, secretWeakness } from '../src/auth/secret-strength.js';

describe('unit: secretWeakness (JWT_SECRET and rotations)', () => {
  const weak: [label: string, secret: string, reason: RegExp][] = [
    ['an empty string', '', /at least 32/],
    ['31 random hex characters', crypto.randomBytes(16).toString('hex').slice(0, 31), /at least 32/],
    ['32 spaces', ' '.repeat(32), /whitespace/],
    ['32 tabs and newlines', '\t\n'.repeat(16), /whitespace/],
    ['one character 40 times', 'a'.repeat(40), /different characters/],
    ['one character 1,000 times', 's'.repeat(1000), /different characters/],
    ['four characters repeated', 'abcd'.repeat(10), /different characters/],
    ['seven characters repeated', 'abcdefg'.repeat(6), /different characters/],
    ['a random secret padded with a space', ` ${crypto.randomBytes(32).toString('hex')}`, /whitespace/],
    ['a random secret with a trailing newline', `${crypto.randomBytes(32).toString('hex')}\n`, /whitespace/],
    ['31 characters spread out by spaces', 'abcdefghijklmnopqrstuvwxyz01234'.split('').join(' '), /not counting whitespace/],
  ];
  for (const [label, secret, reason] of weak) {
    it(`refuses ${label}`, () => {
      expect(secretWeakness(secret)).to.match(reason);
    });
  }

  const strong: [label: string, secret: string][] = [
    ['32 random hex characters', crypto.randomBytes(16).toString('hex')],
    ['64 random hex characters', crypto.randomBytes(32).toString('hex')],
    ['48 random bytes in base64url', crypto.randomBytes(48).toString('base64url')],
    ['a passphrase with inner spaces', 'correct horse battery staple quietly ignores dusk'],
    ['non-ASCII characters', 'ÿþýüûúùø÷öõôóòñðïîíìëêéèçæåäãâáàß'],
  ];
  for (const [label, secret] of strong) {
    it(`accepts ${label}`, () => {
      expect(secretWeakness(secret)).to.equal(undefined);
    });
  }

  it('never quotes the secret in its message', () => {
    const secret = 'my-secret-is-far-too-short';
    expect(secretWeakness(secret)).to.be.a('string').and.not.include(secret);
  });

  it(`counts at least ${MIN_SECRET_CHARACTERS} characters`, () => {
    expect(MIN_SECRET_CHARACTERS).to.equal(32);
  });
});
