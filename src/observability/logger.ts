import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;

/** Structured JSON logs on stderr (stdout stays free for command output). */
export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({ level, base: { name: 'acr-access-operator' } }, pino.destination(2));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
