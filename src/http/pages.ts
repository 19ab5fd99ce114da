/** The browser client (contract §7): `/` and `/admin` from views/, and their static assets. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/** views/ sits at the project root, whether this runs from src/ (tsx) or dist/src/ (built). */
export function viewsDirectory(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../views'), path.resolve(here, '../../../views')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html'))) ?? candidates[0]!;
}

export function pageRoutes(): Router {
  const views = viewsDirectory();
  const router = Router();
  router.get('/', (_req, res) => res.sendFile(path.join(views, 'index.html')));
  router.get('/admin', (_req, res) => res.sendFile(path.join(views, 'admin.html')));
  router.use(express.static(views, { index: false, extensions: false, fallthrough: true }));
  return router;
}
