import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ERRORS } from '../src/errors.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md');

/** The rows of the README's error table: the markdown table whose header starts with `| code | status |`. */
function documentedErrors(markdown: string): Map<string, number> {
  const lines = markdown.split('\n');
  const header = lines.findIndex((line) => /^\|\s*code\s*\|\s*status\s*\|/i.test(line.trim()));
  expect(header, 'README.md has an error table with a "| code | status |" header').to.be.at.least(0);
  const rows = new Map<string, number>();
  for (const line of lines.slice(header + 2)) {
    if (!line.trim().startsWith('|')) break;
    const [code, status] = line.split('|').slice(1, 3).map((cell) => cell.trim().replace(/`/g, ''));
    rows.set(code!, Number(status));
  }
  return rows;
}

describe('the error registry is documented (contract §2)', () => {
  it('lists every code of src/errors.ts in README.md\'s error table, with its status, and nothing else', () => {
    expect(fs.existsSync(README), 'README.md exists').to.equal(true);
    const documented = documentedErrors(fs.readFileSync(README, 'utf8'));
    const registry = Object.entries(ERRORS).map(([code, { status }]) => [code, status] as const);
    const missing = registry.filter(([code]) => !documented.has(code)).map(([code]) => code);
    expect(missing, 'codes missing from the README').to.deep.equal([]);
    const wrongStatus = registry.filter(([code, status]) => documented.get(code) !== status).map(([code, status]) => `${code}: ${documented.get(code)} ≠ ${status}`);
    expect(wrongStatus, 'codes documented with another status').to.deep.equal([]);
    const stale = [...documented.keys()].filter((code) => !(code in ERRORS));
    expect(stale, 'README codes that are not in the registry').to.deep.equal([]);
  });

  it('uses snake_case codes and a 4xx/5xx status with a title for each', () => {
    for (const [code, { status, title }] of Object.entries(ERRORS)) {
      expect(code).to.match(/^[a-z]+(_[a-z]+)*$/);
      expect(status).to.be.within(400, 599);
      expect(title).to.be.a('string').and.not.be.empty;
    }
  });
});
