import zlib from 'node:zlib';
import { expect } from 'chai';
import { expectJsonApiError } from './helpers/http.js';
import { useWorld } from './helpers/world.js';

describe('HTTP bodies that cannot be read (contract §2)', () => {
  const world = useWorld();
  const notify = (body: Buffer, encoding: string) =>
    world.api.post('/control/notify?method=users:alice', undefined, { raw: body, headers: { 'content-encoding': encoding }, contentType: 'application/json' });

  it('answers a corrupt gzip or deflate body with 400, not 500', async () => {
    for (const encoding of ['gzip', 'deflate']) expectJsonApiError(await notify(Buffer.from('not compressed at all'), encoding), 400, 'invalid_body');
  });

  it('reads a well-formed gzip body', async () => {
    const res = await notify(zlib.gzipSync(JSON.stringify({ event: 'zipped', attributes: {} })), 'gzip');
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
  });

  it('refuses an unknown content encoding with 415', async () => {
    expectJsonApiError(await notify(Buffer.from('{}'), 'br-nonsense'), 415, 'unsupported_media_type');
  });
});
