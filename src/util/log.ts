// Structured logging. Private keys are redacted wherever they could appear.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'private_key',
  '*.private_key',
  '*.*.private_key',
  'privateKey',
  '*.privateKey',
  'key',
  '*.key',
  'inline_string',
  '*.inline_string',
];

export function createLogger(level: string = process.env['MESHGATE_LOG_LEVEL'] ?? 'info', destination: number = 2): Logger {
  return pino(
    {
      level,
      base: { app: 'meshgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: destination, sync: false }),
  );
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
