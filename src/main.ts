/** The process entry (bin/www): configuration, one server, signals. */
import { ConfigError } from '../config.js';
import { loadServerConfig } from './auth/config-rules.js';
import { createLogger } from './logger.js';
import { createChatty } from './server.js';
import { StartupError } from './auth/signing-keys.js';

export async function main(): Promise<void> {
  let config;
  try {
    config = loadServerConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  let chatty;
  try {
    chatty = await createChatty(config, { logger });
    await chatty.listen();
  } catch (error) {
    if (error instanceof StartupError || (error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    chatty.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
