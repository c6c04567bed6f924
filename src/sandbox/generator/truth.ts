/**
 * The latent truth as JSON lines (one ContactTruth per line), written as it streams so a
 * 1,000,000-contact account never holds its truth in memory. Never served by the sandbox API.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { ContactTruth } from '../model.ts';

export type TruthWriter = { write(truths: Iterable<ContactTruth>): void; close(): number };

/** Opens `file` (truncating it) for incremental writes; `close()` returns the number of lines. */
export function createTruthWriter(file: string): TruthWriter {
  const fd = openSync(file, 'w');
  let lines = 0;
  let open = true;
  return {
    write(truths) {
      if (!open) throw new Error(`truth file ${file} is already closed`);
      let chunk = '';
      for (const truth of truths) {
        chunk += `${JSON.stringify(truth)}\n`;
        lines++;
        if (chunk.length > 1 << 20) {
          writeSync(fd, chunk);
          chunk = '';
        }
      }
      if (chunk !== '') writeSync(fd, chunk);
    },
    close() {
      if (open) {
        open = false;
        closeSync(fd);
      }
      return lines;
    },
  };
}

/** Writes all `truths` to `file` as JSON lines; returns how many were written. */
export function writeTruth(file: string, truths: Iterable<ContactTruth>): number {
  const writer = createTruthWriter(file);
  try {
    writer.write(truths);
  } catch (error) {
    writer.close();
    throw error;
  }
  return writer.close();
}
