import { expect } from 'chai';
import { MAX_METHOD_NAMES, parseMethod } from '../src/channels/method-query.js';
import { thrown } from './helpers/errors.js';

const NOTIFY = ['channels', 'channels-efficient', 'users'] as const;
const SUBSCRIBE = ['channels', 'users'] as const;

describe('unit: parseMethod (contract §4.1)', () => {
  const valid: [input: string, mode: string, names: string[]][] = [
    ['channels:a', 'channels', ['a']],
    ['channels:a,b', 'channels', ['a', 'b']],
    ['channels:[a,b]', 'channels', ['a', 'b']],
    ['channels:[a, b]', 'channels', ['a', 'b']],
    ['channels:[ a ,  b ]', 'channels', ['a', 'b']],
    ['channels: a, b', 'channels', ['a', 'b']],
    ['channels:[posts-1, teams-3]', 'channels', ['posts-1', 'teams-3']],
    ['channels-efficient:posts-1,posts-3,posts-2', 'channels-efficient', ['posts-1', 'posts-3', 'posts-2']],
    ['users:u1,u2', 'users', ['u1', 'u2']],
    ['users:[alice]', 'users', ['alice']],
    // deduplicated in order of first appearance
    ['users:b,a,b,a,c', 'users', ['b', 'a', 'c']],
    ['channels:[x, x]', 'channels', ['x']],
    // names may contain anything but whitespace, control characters and , : [ ]
    ['users:user@example.com,ü-ñ,a.b_c-d', 'users', ['user@example.com', 'ü-ñ', 'a.b_c-d']],
    ['users:' + 'x'.repeat(200), 'users', ['x'.repeat(200)]],
  ];
  for (const [input, mode, names] of valid) {
    it(`parses ${JSON.stringify(input.length > 60 ? input.slice(0, 60) + '…' : input)}`, () => {
      expect(parseMethod(input, NOTIFY)).to.deep.equal({ mode, names });
    });
  }

  it(`accepts exactly ${MAX_METHOD_NAMES} names`, () => {
    const names = Array.from({ length: MAX_METHOD_NAMES }, (_, i) => `c${i}`);
    expect(parseMethod(`channels:${names.join(',')}`, NOTIFY).names).to.have.length(MAX_METHOD_NAMES);
    expect(parseMethod(`channels:[${names.join(', ')}]`, NOTIFY).names).to.have.length(MAX_METHOD_NAMES);
  });

  const invalid: [label: string, input: unknown, modes?: readonly string[]][] = [
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an array (repeated parameter)', ['channels:a', 'channels:b']],
    ['an empty string', ''],
    ['no colon', 'channels'],
    ['an empty list', 'channels:'],
    ['an empty bracketed list', 'channels:[]'],
    ['a list of blanks', 'channels:   '],
    ['an empty bracketed list with spaces', 'channels:[ ]'],
    ['an unknown mode', 'rooms:a'],
    ['an empty mode', ':a'],
    ['a mode in the wrong case', 'Channels:a'],
    ['channels-efficient where only channels and users are allowed', 'channels-efficient:a', SUBSCRIBE],
    [`more than ${MAX_METHOD_NAMES} names`, `users:${Array.from({ length: MAX_METHOD_NAMES + 1 }, (_, i) => `u${i}`).join(',')}`],
    ['an empty item', 'channels:a,,b'],
    ['a trailing comma', 'channels:a,'],
    ['a leading comma', 'channels:,a'],
    ['unbalanced [', 'channels:[a,b'],
    ['unbalanced ]', 'channels:a,b]'],
    ['nested brackets', 'channels:[[a]]'],
    ['a name with a colon', 'channels:a:b'],
    ['a name with an inner space', 'channels:a b'],
    ['a name with a tab', 'channels:a\tb'],
    ['a name with a control character', 'channels:a\u0001b'],
    ['a name with a bracket', 'channels:a]b,c'],
    ['a name of 201 characters', 'users:' + 'x'.repeat(201)],
    ['a name with a non-breaking space', 'users:a\u00a0b'],
  ];
  for (const [label, input, modes] of invalid) {
    it(`rejects ${label} with 400 invalid_parameter, source.parameter = method`, () => {
      const error = thrown(() => parseMethod(input, modes ?? NOTIFY));
      expect(error.code).to.equal('invalid_parameter');
      expect(error.status).to.equal(400);
      expect(error.source).to.deep.equal({ parameter: 'method' });
      expect(error.detail).to.be.a('string').and.not.be.empty;
    });
  }

  it('keeps the echoed detail short for absurd input', () => {
    const error = thrown(() => parseMethod(`${'m'.repeat(5000)}:a`, NOTIFY));
    expect(error.detail.length).to.be.below(300);
    const error2 = thrown(() => parseMethod(`users:${'x'.repeat(5000)}`, NOTIFY));
    expect(error2.detail.length).to.be.below(300);
  });
});
