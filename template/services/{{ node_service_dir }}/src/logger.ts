import type { LoggerOptions } from 'pino';

/**
 * Logger options shared by the server and the worker: JSON lines, pretty only on a terminal (and
 * only where pino-pretty is installed, which the production image is not). Never keyed off
 * NODE_ENV: a staging box on a TTY is still a terminal.
 */
export function loggerOptions(level: string): LoggerOptions {
  const options: LoggerOptions = {
    level,
    redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
  };
  if (process.stdout.isTTY && canResolve('pino-pretty')) {
    options.transport = { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l' } };
  }
  return options;
}

function canResolve(specifier: string): boolean {
  try {
    import.meta.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}
