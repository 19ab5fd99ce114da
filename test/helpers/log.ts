/** A logger whose lines a test reads, parsed, as pino writes them. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

export type LogLine = Record<string, unknown> & { level: number; msg: string };

export interface CapturedLog {
  logger: Logger;
  /** Every line logged so far, parsed. */
  lines: LogLine[];
  /** Everything logged so far, as written. */
  text(): string;
}

export function captureLog(level: 'info' | 'warn' = 'info'): CapturedLog {
  const written: string[] = [];
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      written.push(String(chunk));
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger(level, sink), lines, text: () => written.join('') };
}
