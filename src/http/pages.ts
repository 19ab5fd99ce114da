/** The browser client (contract §7): `/` and `/admin` from views/, and their static assets. */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/** views/ sits at the project root, whether this runs from src/ (tsx) or dist/src/ (built). */
export function viewsDirectory(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../views'), path.resolve(here, '../../../views')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html'))) ?? candidates[0]!;
}

/** uPlot's dist/ folder (uPlot.esm.js, uPlot.min.css), wherever npm installed it. */
function uplotDirectory(): string {
  return path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
}

export function pageRoutes(): Router {
  const views = viewsDirectory();
  const router = Router();
  router.get('/', (_req, res) => res.sendFile(path.join(views, 'index.html')));
  router.get('/admin', (_req, res) => res.sendFile(path.join(views, 'admin.html')));
  router.use(express.static(views, { index: false, extensions: false, fallthrough: true }));
  // the console's charts: uPlot, from this package's own dependencies (never a CDN)
  router.use('/vendor/uplot', express.static(uplotDirectory(), { index: false, extensions: false, fallthrough: true }));
  return router;
}
