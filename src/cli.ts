/**
 * The command line (`npx chatty <command>`, the `bin/www` entry): `start` (the default) runs the
 * server; `token` mints a token with the current key of the configured store, for operators and the
 * quick start; `secret` prints a fresh random secret; `config` prints a documented `.env` template.
 * Nothing prints a secret unless asked for one. Bad arguments exit 2 with one line saying why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ms from 'ms';
import { ConfigError } from '../config.js';
import { loadServerConfig } from './auth/config-rules.js';
import { generateSecret } from './auth/key-ring.js';
import { SigningKeys, StartupError } from './auth/signing-keys.js';
import type { Role } from './auth/tokens.js';
import { createLogger } from './logger.js';
import { main } from './main.js';
import { openStore } from './store/open-store.js';

/** The package's root: `.env.example` ships beside `package.json`. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const HELP: Record<string, string> = {
  '': `Usage: chatty [command] [options]

Commands:
  start              run the server (the default), configured by the environment and .env
  token --sub <id>   print a token signed with the current key of the configured store
  secret             print a fresh random secret (for JWT_SECRET or a rotation)
  config             print a documented .env template

Run \`chatty <command> --help\` for a command's options.`,
  start: `Usage: chatty start

Runs the server with the configuration of the environment and .env (see \`chatty config\`).
SIGTERM or SIGINT stops it: in-flight requests finish, sockets close, the log is flushed.`,
  token: `Usage: chatty token --sub <user id> [--role user|service|admin] [--ttl 1h]

Prints a token for <user id>, signed with the current key of the key ring in DATABASE_URL's store
(seeding the ring first if it is empty, as the server would). Use --role service for your app
server's calls to /control. --ttl: 30s, 15m, 1h, 7d… (default 1h, at most 1y).`,
  secret: `Usage: chatty secret

Prints a fresh random secret of 64 characters: a JWT_SECRET, or the body of a rotation.`,
  config: `Usage: chatty config

Prints a documented .env template (every setting, commented out at its default); for example
\`npx chatty config > .env\`.`,
};

class UsageError extends Error {}

const ROLES: readonly Role[] = ['user', 'service', 'admin'];
const MAX_TTL_MS = ms('1y');

/** Runs the command line; resolves with the exit code, or undefined once `start` has the server running. */
export async function cli(argv: readonly string[], out: (text: string) => void = (text) => process.stdout.write(text)): Promise<number | undefined> {
  const [first, ...rest] = argv;
  const command = first === undefined || first.startsWith('-') ? 'start' : first;
  const args = first === undefined || first.startsWith('-') ? argv : rest;
  try {
    if (!(command in HELP) || command === '') throw new UsageError(`unknown command "${command}": try chatty --help`);
    const { values } = parseArgs({
      args: [...args],
      options: { help: { type: 'boolean', short: 'h' }, sub: { type: 'string' }, role: { type: 'string' }, ttl: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      out(`${HELP[first === undefined || first.startsWith('-') ? '' : command]}\n`);
      return 0;
    }
    if (command !== 'token' && (values.sub !== undefined || values.role !== undefined || values.ttl !== undefined)) {
      throw new UsageError(`chatty ${command} takes no --sub, --role or --ttl`);
    }
    switch (command) {
      case 'start':
        await main();
        return undefined;
      case 'secret':
        out(`${generateSecret()}\n`);
        return 0;
      case 'config':
        out(fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8'));
        return 0;
      case 'token':
        out(`${await mintToken(values)}\n`);
        return 0;
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`chatty: ${(error as Error).message}\n`);
      return 2;
    }
    if (error instanceof ConfigError || error instanceof StartupError) {
      process.stderr.write(`${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

async function mintToken(values: { sub?: string; role?: string; ttl?: string }): Promise<string> {
  if (values.sub === undefined || values.sub.trim() === '') throw new UsageError('token needs --sub <user id>');
  const role = (values.role ?? 'user') as Role;
  if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  const ttlMs = values.ttl === undefined ? ms('1h') : /^\d+$/.test(values.ttl) ? Number(values.ttl) * 1000 : ms(values.ttl as ms.StringValue);
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_TTL_MS) throw new UsageError('--ttl must be a duration such as 15m, 1h or 7d, at most 1y');
  const config = loadServerConfig();
  // warnings (a generated development secret) go to stderr: stdout holds the token alone
  const logger = createLogger(config.logLevel === 'silent' ? 'silent' : 'warn', process.stderr);
  const store = openStore(config.databaseUrl);
  try {
    await store.migrate();
    const keys = await SigningKeys.load(store, { jwtSecret: config.jwtSecret, nodeEnv: config.nodeEnv, logger });
    try {
      return keys.sign({ sub: values.sub, ...(role !== 'user' ? { role } : {}) }, Math.ceil(ttlMs / 1000));
    } finally {
      keys.stop();
    }
  } finally {
    await store.close();
  }
}
