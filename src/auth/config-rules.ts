/**
 * The parts of the configuration that follow the account and key rules: the bootstrap admin's
 * username and password (the rules of registration) and the strength of `JWT_SECRET` (the rule of
 * rotations). config.ts checks that they are strings and nothing from src/; these checks run on
 * the loaded configuration, before anything starts, with the same one-line `ConfigError`.
 *
 *   const config = checkConfigRules(loadConfig());
 */
import { ConfigError, loadConfig, type Config } from '../../config.js';
import { passwordSchema, usernameSchema } from './credentials.js';
import { secretWeakness } from './secret-strength.js';

/** Returns `config` if it follows the rules; throws the first broken one as a ConfigError. */
export function checkConfigRules(config: Config): Config {
  const refuse = (variable: string, message: string): never => {
    throw new ConfigError(`Invalid configuration: ${variable}: ${message}`);
  };
  if (config.jwtSecret !== undefined) {
    const weakness = secretWeakness(config.jwtSecret);
    if (weakness) refuse('JWT_SECRET', weakness);
  }
  if (config.admin) {
    const username = usernameSchema.safeParse(config.admin.username);
    if (!username.success) refuse('ADMIN_USERNAME', username.error.issues[0]!.message);
    const password = passwordSchema.safeParse(config.admin.password);
    if (!password.success) refuse('ADMIN_PASSWORD', password.error.issues[0]!.message);
  }
  if (config.redisUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
      refuse('REDIS_URL', 'many nodes share one PostgreSQL database, and SQLite is one process\'s: set DATABASE_URL=postgres://… or unset REDIS_URL');
    }
    if (config.eventLog !== 'durable') refuse('REDIS_URL', 'nodes deliver through the shared event log: EVENT_LOG=off is for one process');
  }
  return config;
}

/** The configuration the server starts with: {@link loadConfig}, then {@link checkConfigRules}. */
export function loadServerConfig(env?: Record<string, string | undefined>): Config {
  return checkConfigRules(loadConfig(env));
}
