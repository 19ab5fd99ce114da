import { expect } from 'chai';
import { channelsOfDocument } from '../src/channels/jsonapi-channels.js';
import { thrown } from './helpers/errors.js';

describe('unit: channelsOfDocument (contract §4.3)', () => {
  const derived: [label: string, document: unknown, channels: string[]][] = [
    ['an object data', { data: { type: 'posts', id: '12' } }, ['posts-12']],
    ['an array data', { data: [{ type: 'posts', id: '1' }, { type: 'posts', id: '2' }] }, ['posts-1', 'posts-2']],
    [
      'a to-one relationship',
      { data: { type: 'posts', id: '12', relationships: { author: { data: { type: 'users', id: '3' } } } } },
      ['posts-12', 'users-3'],
    ],
    [
      'a to-many relationship',
      {
        data: {
          type: 'posts',
          id: '12',
          relationships: { tags: { data: [{ type: 'tags', id: 'a' }, { type: 'tags', id: 'b' }] } },
        },
      },
      ['posts-12', 'tags-a', 'tags-b'],
    ],
    [
      'relationships of every resource in an array data',
      {
        data: [
          { type: 'posts', id: '1', relationships: { author: { data: { type: 'users', id: '7' } } } },
          { type: 'posts', id: '2', relationships: { author: { data: { type: 'users', id: '8' } } } },
        ],
      },
      ['posts-1', 'users-7', 'posts-2', 'users-8'],
    ],
    [
      'empty and null relationship linkage (skipped)',
      {
        data: {
          type: 'posts',
          id: '1',
          relationships: { author: { data: null }, tags: { data: [] }, comments: { links: { related: '/x' } } },
        },
      },
      ['posts-1'],
    ],
    [
      'included resources, after data',
      { data: { type: 'posts', id: '1' }, included: [{ type: 'users', id: '9' }, { type: 'comments', id: '5' }] },
      ['posts-1', 'users-9', 'comments-5'],
    ],
    ['included alone (data null)', { data: null, included: [{ type: 'users', id: '9' }] }, ['users-9']],
    ['included alone (no data)', { included: [{ type: 'users', id: '9' }] }, ['users-9']],
    [
      'duplicates across data, relationships and included, in order of first appearance',
      {
        data: [
          { type: 'posts', id: '1', relationships: { author: { data: { type: 'users', id: '3' } } } },
          { type: 'posts', id: '1' },
          { type: 'posts', id: '2', relationships: { author: { data: { type: 'users', id: '3' } } } },
        ],
        included: [{ type: 'users', id: '3' }, { type: 'posts', id: '2' }, { type: 'users', id: '4' }],
      },
      ['posts-1', 'users-3', 'posts-2', 'users-4'],
    ],
    [
      'relationships of included resources are not followed',
      {
        data: { type: 'posts', id: '1' },
        included: [{ type: 'users', id: '3', relationships: { team: { data: { type: 'teams', id: '1' } } } }],
      },
      ['posts-1', 'users-3'],
    ],
    ['attributes, meta and links are ignored', { data: { type: 'a', id: 'b', attributes: { type: 'x', id: 'y' }, meta: {}, links: {} }, meta: {} }, ['a-b']],
    ['ids with dashes and dots', { data: { type: 'blog.posts', id: 'a-b-c' } }, ['blog.posts-a-b-c']],
  ];
  for (const [label, document, channels] of derived) {
    it(`derives channels from ${label}`, () => {
      expect(channelsOfDocument(document)).to.deep.equal(channels);
    });
  }

  const rejected: [label: string, document: unknown, pointer: string][] = [
    ['a numeric id', { data: { type: 'posts', id: 12 } }, '/data/id'],
    ['a numeric type', { data: { type: 7, id: '1' } }, '/data/type'],
    ['a missing id', { data: { type: 'posts' } }, '/data/id'],
    ['a missing type', { data: { id: '1' } }, '/data/type'],
    ['an empty id', { data: { type: 'posts', id: '' } }, '/data/id'],
    ['a null id', { data: { type: 'posts', id: null } }, '/data/id'],
    ['a boolean id', { data: { type: 'posts', id: true } }, '/data/id'],
    ['an object id', { data: { type: 'posts', id: { x: 1 } } }, '/data/id'],
    ['a numeric id in the second array element', { data: [{ type: 'posts', id: '1' }, { type: 'posts', id: 2 }] }, '/data/1/id'],
    ['a resource that is not an object', { data: ['posts-1'] }, '/data/0'],
    ['a scalar data', { data: 'posts-1' }, '/data'],
    [
      'a numeric id in a to-one relationship',
      { data: { type: 'posts', id: '1', relationships: { author: { data: { type: 'users', id: 3 } } } } },
      '/data/relationships/author/data/id',
    ],
    [
      'a numeric id in a to-many relationship',
      { data: [{ type: 'posts', id: '1', relationships: { tags: { data: [{ type: 'tags', id: 'a' }, { type: 'tags', id: 5 }] } } }] },
      '/data/0/relationships/tags/data/1/id',
    ],
    [
      'a relationship name needing JSON-pointer escaping',
      { data: { type: 'posts', id: '1', relationships: { 'a/b~c': { data: { type: 'users' } } } } },
      '/data/relationships/a~1b~0c/data/id',
    ],
    ['relationships that are not an object', { data: { type: 'posts', id: '1', relationships: [] } }, '/data/relationships'],
    ['a relationship that is not an object', { data: { type: 'posts', id: '1', relationships: { author: 'users-1' } } }, '/data/relationships/author'],
    ['a numeric id in included', { data: { type: 'posts', id: '1' }, included: [{ type: 'users', id: 3 }] }, '/included/0/id'],
    ['included that is not an array', { data: { type: 'posts', id: '1' }, included: { type: 'users', id: '3' } }, '/included'],
    ['a channel name with a space', { data: { type: 'posts', id: 'a b' } }, '/data'],
    ['a channel name with a colon', { data: { type: 'user', id: 'x:y' } }, '/data'],
    ['a channel name longer than 200 characters', { data: { type: 'posts', id: 'x'.repeat(200) } }, '/data'],
    // empty documents
    ['an empty object', {}, '/data'],
    ['data null', { data: null }, '/data'],
    ['data []', { data: [] }, '/data'],
    ['data [] and included []', { data: [], included: [] }, '/data'],
    ['only meta', { meta: { x: 1 } }, '/data'],
    // not a document at all
    ['null', null, ''],
    ['an array', [{ type: 'posts', id: '1' }], ''],
    ['a string', 'posts-1', ''],
    ['a number', 12, ''],
    ['undefined (no body)', undefined, ''],
  ];
  for (const [label, document, pointer] of rejected) {
    it(`rejects ${label} with 422 validation_failed at ${JSON.stringify(pointer)}`, () => {
      const error = thrown(() => channelsOfDocument(document));
      expect(error.code).to.equal('validation_failed');
      expect(error.status).to.equal(422);
      expect(error.source).to.deep.equal({ pointer });
    });
  }
});
