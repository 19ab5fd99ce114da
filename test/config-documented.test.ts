/**
 * Every variable the configuration reads is documented where users look for it: a row of one of
 * the README's tables, and a line of `.env.example`; and the example file's values are the
 * defaults, so copying it to `.env` changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { expect } from 'chai';
import { ALIASES, loadConfig } from '../config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');

/** The names in backticks in the first cell of every markdown table row: `| \`NAME\` (also \`OLD\`) | ...`. */
const readmeRows = new Set(
  [...readme.matchAll(/^\|([^|\n]*)\|/gm)].flatMap((row) => [...row[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!)),
);
/** Every `NAME=` line of .env.example, set or commented out. */
const exampleLines = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));

describe('configuration is documented (README tables and .env.example)', () => {
  const variables = Object.keys(ALIASES);
  const legacy = Object.values(ALIASES).flatMap(([, ...aliases]) => aliases);

  it('has a README table row for every variable', () => {
    expect(variables.filter((name) => !readmeRows.has(name))).to.deep.equal([]);
  });

  it('has a .env.example line for every variable', () => {
    expect(variables.filter((name) => !exampleLines.has(name))).to.deep.equal([]);
  });

  it('names every legacy alias in both', () => {
    expect(legacy.filter((name) => !readme.includes(name) || !example.includes(name))).to.deep.equal([]);
  });

  it('documents nothing the configuration does not read', () => {
    expect([...exampleLines].filter((name) => !(name in ALIASES))).to.deep.equal([]);
  });

  it('gives the defaults in .env.example: loading it equals loading nothing', () => {
    const fromExample = loadConfig(dotenv.parse(example));
    expect(fromExample).to.deep.equal(loadConfig({}));
  });
});
