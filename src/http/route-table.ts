/**
 * The routes an Express app serves, read from its router: which route template a path belongs
 * to, whatever the method and whether or not the request reached the route (an error before it, a
 * 401 from the token check, is still counted under the route), and which methods it allows, for a
 * `405` with `Allow` instead of a `404` when only the method is wrong.
 *
 * Express keeps no such table; its router's layers are walked (the `router` package's documented
 * `Layer#match`, `layer.route`, a mounted router's `stack`). A path's answer is kept, so a route's
 * requests pay for one walk in all; unknown paths are not kept beyond a bound.
 */
import type express from 'express';

export interface RouteMatch {
  /** The route's full path, e.g. `/control/notify`. */
  readonly template: string;
  /** Its methods in upper case, with HEAD wherever GET is (Express answers HEAD with GET's route). */
  readonly methods: readonly string[];
}

interface Layer {
  match(path: string): false | { path: string };
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Paths whose answer is kept: every route's, and a bounded number of unknown ones. */
const KEPT_PATHS = 1000;

export class RouteTable {
  private readonly known = new Map<string, RouteMatch | null>();

  constructor(private readonly app: express.Express) {}

  /** The route `path` (without its query) belongs to, or undefined when none has it. */
  match(path: string): RouteMatch | undefined {
    const kept = this.known.get(path);
    if (kept !== undefined) return kept ?? undefined;
    const found = find((this.app as unknown as { router: { stack: Layer[] } }).router.stack, path);
    if (this.known.size < KEPT_PATHS) this.known.set(path, found ?? null);
    return found;
  }
}

/** The first route that has `path`, with the methods of every route of the same template. */
function find(stack: readonly Layer[], path: string): RouteMatch | undefined {
  const routes: { template: string; methods: Record<string, boolean> }[] = [];
  collect(stack, path, '', routes);
  const first = routes[0];
  if (!first) return undefined;
  const methods: Record<string, boolean> = {};
  for (const route of routes) if (route.template === first.template) Object.assign(methods, route.methods);
  return { template: first.template, methods: methodsOf(methods) };
}

function collect(stack: readonly Layer[], path: string, prefix: string, into: { template: string; methods: Record<string, boolean> }[]): void {
  for (const layer of stack) {
    const matched = layer.match(path);
    if (!matched) continue;
    if (layer.route) into.push({ template: prefix + layer.route.path, methods: layer.route.methods });
    else if (layer.handle?.stack) collect(layer.handle.stack, path.slice(matched.path.length) || '/', prefix + matched.path, into);
  }
}

function methodsOf(methods: Record<string, boolean>): string[] {
  const names = Object.keys(methods).filter((name) => methods[name] && name !== '_all').map((name) => name.toUpperCase());
  if (names.includes('GET') && !names.includes('HEAD')) names.push('HEAD');
  return names;
}
