import { expect } from 'chai';
import { MAX_PARTICIPANTS_SCANNED } from '../src/http/control-routes.js';
import { useWorld } from './helpers/world.js';

describe('participants?online=true on a big channel (contract §4.4)', () => {
  const world = useWorld();

  it('stops after a bounded scan and resumes from links.next', async () => {
    const total = MAX_PARTICIPANTS_SCANNED + 500;
    const ids = Array.from({ length: total }, (_, i) => `u${String(i).padStart(6, '0')}`);
    for (let i = 0; i < ids.length; i += 1000) {
      await world.subscription('subscribe', `users:${ids.slice(i, i + 1000).join(',')}`, { data: { type: 'rooms', id: 'big' } });
    }
    const last = ids.at(-1)!;
    await world.open(last); // the only one online, past the first scan's reach

    const first = await world.api.get('/control/search/participants?channel=rooms-big&online=true&page[size]=10');
    expect(first.status).to.equal(200);
    expect(first.body.data).to.deep.equal([]);
    expect(first.body.links.next).to.include(`page%5Bafter%5D=${ids[MAX_PARTICIPANTS_SCANNED - 1]}`);

    const second = await world.api.get(first.body.links.next);
    expect(second.body.data).to.deep.equal([{ type: 'users', id: last, attributes: { online: true } }]);
    expect(second.body).to.not.have.property('links');
  });
});
