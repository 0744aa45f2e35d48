// The gateway process: the only module that reads the environment and listens.
import { ConfigError, type GatewayConfig, parseConfig } from './config.js';
import { createLogger } from './logger.js';
import { devBanner, type RunningGateway, startGateway } from './start.js';

function loadConfig(): GatewayConfig {
  try {
    return parseConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`arrakis-gateway: ${error.message}\nSee apps/gateway/README.md for every variable.\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config);
  let gateway: RunningGateway;
  try {
    gateway = await startGateway({ config, logger });
  } catch (error) {
    logger.fatal({ err: error }, `could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
    return;
  }

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'signal received');
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  const banner = await devBanner(gateway, config);
  if (banner !== undefined) process.stderr.write(banner);
}

await main();
