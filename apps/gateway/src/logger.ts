import { type DestinationStream, type Logger, pino } from 'pino';
import type { GatewayConfig } from './config.js';

/**
 * The gateway's pino logger: JSON lines, ISO timestamps, `service: arrakis-gateway`, errors under `err` with
 * their stack, and any `authorization` header redacted.
 *
 * @example
 * ```ts
 * const logger = createLogger({ logLevel: 'info' });
 * logger.info({ port: 3000 }, 'listening');
 * ```
 */
export function createLogger(config: Pick<GatewayConfig, 'logLevel'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { service: 'arrakis-gateway', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['authorization', 'headers.authorization', '*.headers.authorization'], censor: '[redacted]' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
