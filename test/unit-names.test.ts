import { expect } from 'chai';
import { isCanonicalDm, isValidName } from '../src/channels/names.js';

describe('unit: isValidName (contract §1)', () => {
  const valid = ['a', 'alice', 'posts-12', 'user_1.x@example.com', 'é', '日本語', '😀', 'x'.repeat(200), '😀'.repeat(200)];
  for (const name of valid) {
    it(`accepts ${JSON.stringify(name.slice(0, 20))}${name.length > 20 ? '…' : ''}`, () => {
      expect(isValidName(name)).to.equal(true);
    });
  }

  const invalid: [label: string, value: unknown][] = [
    ['an empty string', ''],
    ['201 characters', 'x'.repeat(201)],
    ['a number', 42],
    ['undefined', undefined],
    ['a space', 'a b'],
    ['a no-break space (Zs)', 'a\u00a0b'],
    ['a line separator (Zl)', 'a\u2028b'],
    ['a tab', 'a\tb'],
    ['a control character (Cc)', 'a\u0007'],
    ['a DEL (Cc)', 'a\u007f'],
    ['a comma', 'a,b'],
    ['a colon', 'user:x'],
    ['a bracket', '[a]'],
    // format characters (Cf): invisible or reordering, so look-alike names
    ['a zero-width space (U+200B)', 'ad\u200bmin'],
    ['a zero-width joiner (U+200D)', 'ad\u200dmin'],
    ['a zero-width non-joiner (U+200C)', 'ad\u200cmin'],
    ['a right-to-left override (U+202E)', 'posts-\u202e1'],
    ['a left-to-right embedding (U+202A)', '\u202aposts'],
    ['a left-to-right isolate (U+2066)', '\u2066alice'],
    ['a pop directional isolate (U+2069)', 'alice\u2069'],
    ['a left-to-right mark (U+200E)', 'alice\u200e'],
    ['a byte order mark (U+FEFF)', '\ufeffalice'],
    ['a soft hyphen (U+00AD)', 'ad\u00admin'],
    ['a word joiner (U+2060)', 'ad\u2060min'],
    ['an Arabic letter mark (U+061C)', 'a\u061cb'],
    ['a Mongolian vowel separator (U+180E)', 'a\u180eb'],
    ['a tag character (U+E0041)', 'a\u{e0041}'],
    ['a lone high surrogate', 'a\ud800'],
    ['a lone low surrogate', '\udc00a'],
  ];
  for (const [label, value] of invalid) {
    it(`refuses ${label}`, () => {
      expect(isValidName(value)).to.equal(false);
    });
  }

  it('refuses a dm: conversation naming a user with a format character', () => {
    expect(isCanonicalDm('dm:ad\u200bmin:bob')).to.equal(false);
    expect(isCanonicalDm('dm:admin:bob')).to.equal(true);
  });
});
