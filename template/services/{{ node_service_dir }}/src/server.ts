// The API process: read the configuration, build the app, listen, shut down gracefully.
// Everything else (plugins, routes, error handling) lives in app.ts, which tests import instead.
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { loggerOptions } from './logger.ts';
import { shutdownTelemetry } from './telemetry.ts';

/** A setting is missing or invalid (loadConfig, or a plugin's own check): one line, exit 1. */
function refuseToStart(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`error: ${error.message}`);
  process.exit(1);
}

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  refuseToStart(error);
}

const app = await buildApp(config, { logger: loggerOptions(config.LOG_LEVEL) }).catch(
  refuseToStart,
);

// On SIGINT/SIGTERM: stop accepting connections, let in-flight requests finish, close the queue
// connections (app.close runs every onClose hook), flush telemetry, then exit 0; exit 1 if that takes longer than
// SHUTDOWN_GRACE_MS or the process crashed.
closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, logger: app.log }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'shutting down after an uncaught error');
  else app.log.info({ signal }, 'shutting down');
  await app.close();
  await shutdownTelemetry();
});

try {
  await app.listen({ host: config.HOST, port: config.PORT });
} catch (err) {
  app.log.fatal({ err }, 'could not start the server');
  process.exit(1);
}
