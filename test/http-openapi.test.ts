/**
 * The OpenAPI document (issue 29): served at /openapi.json, a valid OpenAPI 3.1 document whose
 * paths are exactly the routes the server has, with the methods they answer. That every response
 * matches it is checked on every request of the HTTP tests (helpers/openapi.ts).
 */
import { expect } from 'chai';
import { OPENAPI } from '../src/http/openapi.js';
import { client } from './helpers/http.js';
import { compileComponent } from './helpers/openapi.js';
import { useWorld } from './helpers/world.js';

interface Layer {
  rawPath?: unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every route of an Express router as `METHOD /path`, mounted routers included. */
function routesOf(stack: readonly Layer[], prefix = ''): string[] {
  const found: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const method of Object.keys(layer.route.methods)) found.push(`${method.toUpperCase()} ${prefix}${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
    } else if (layer.handle?.stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      found.push(...routesOf(layer.handle.stack, prefix + mount));
    }
  }
  return found;
}

describe('the OpenAPI document (issue 29)', () => {
  const world = useWorld();

  it('is served at /openapi.json as OpenAPI 3.1 whose schemas compile', async () => {
    const res = await client(world.server.url).get('/openapi.json');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(res.body).to.deep.equal(JSON.parse(JSON.stringify(OPENAPI)));
    expect(res.body.openapi).to.match(/^3\.1\./);
    for (const name of Object.keys(res.body.components.schemas)) expect(() => compileComponent(name), name).to.not.throw();
  });

  it('lists exactly the routes the server has, each with the methods it answers', () => {
    const served = routesOf((world.server.chatty.app as unknown as { router: { stack: Layer[] } }).router.stack).sort();
    const documented = Object.entries(OPENAPI.paths)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(served).to.have.length.above(15);
    expect(documented).to.deep.equal(served);
  });
});
