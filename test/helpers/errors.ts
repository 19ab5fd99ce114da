/** Assertions about the errors the unit under test throws. */
import { expect } from 'chai';
import { ConfigError } from '../../config.js';
import { loadServerConfig } from '../../src/auth/config-rules.js';
import { ChattyError } from '../../src/errors.js';

/** Calls `fn` and returns the ChattyError it throws (fails if it returns or throws anything else). */
export function thrown(fn: () => unknown): ChattyError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(ChattyError);
    return error as ChattyError;
  }
  expect.fail('expected a ChattyError');
}

/** Loads a configuration the server must refuse (loadConfig and the account and key rules), and returns the ConfigError. */
export function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadServerConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error as ConfigError;
  }
  expect.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}
