import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stderr (stdout is reserved for command output such as XML).
 * Fields that could carry a domain XML are redacted as a second line of defence:
 * code must never pass the XML to a logger in the first place.
 */
export function createLogger(component: string, level: LevelWithSilent = 'info'): Logger {
  return pino(
    {
      name: 'premigration-hooks',
      level,
      base: { component },
      redact: { paths: ['xml', 'body', 'domainXml', '*.xml', '*.body'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
