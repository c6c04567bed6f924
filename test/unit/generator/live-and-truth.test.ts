import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLiveActivity, createTruthWriter, generateAccount, writeTruth } from '../../../src/sandbox/generator/index.ts';
import { LIVE_ID_BASE } from '../../../src/sandbox/generator/live.ts';
import type { ContactTruth } from '../../../src/sandbox/model.ts';
import { tempDir } from '../../support/temp-dir.ts';

const NOW = Date.UTC(2026, 0, 15);
const dir = tempDir('rapport-generator-');
afterAll(() => dir.cleanup());

describe('createLiveActivity', () => {
  const contacts = ['1001', '1002', '1003'];

  it('makes one new record a step for an existing contact, with its association, at the given time', () => {
    const live = createLiveActivity({ seed: 3, now: NOW });
    const seen = new Set<string>();
    const types = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const at = NOW + i * 60_000;
      const batch = live.next(contacts, at);
      expect(batch.objects).toHaveLength(1);
      const [object] = batch.objects;
      if (!object) throw new Error('no object');
      types.add(object.type);
      expect(Number(object.id)).toBeGreaterThanOrEqual(LIVE_ID_BASE);
      expect(seen.has(object.id)).toBe(false);
      seen.add(object.id);
      expect(object.createdAt).toBe(at);
      expect(object.updatedAt).toBe(at);
      const linked = batch.associations.map((a) => (a.fromType === 'contacts' ? a.toId : a.fromId));
      expect(linked).toContain(object.id);
      const contact = batch.associations.map((a) => (a.fromType === 'contacts' ? a.fromId : a.toId));
      expect(contacts).toContain(contact[0]);
    }
    expect([...types].sort()).toEqual(['calls', 'emails', 'feedback_submissions', 'tickets']);
  });

  it('is deterministic for a seed and refuses an empty contact list', () => {
    const run = (seed: number) => {
      const live = createLiveActivity({ seed, now: NOW });
      return JSON.stringify([1, 2, 3, 4, 5].map((i) => live.next(contacts, NOW + i)));
    };
    expect(run(8)).toBe(run(8));
    expect(run(8)).not.toBe(run(9));
    expect(() => createLiveActivity({ seed: 1, now: NOW }).next([], NOW)).toThrow(/existing contact/);
  });
});

describe('writeTruth', () => {
  it('writes one JSON line per contact and reads back equal', () => {
    const truths = [...generateAccount({ seed: 4, contacts: 300, now: NOW })].flatMap((b) => b.truth);
    const file = join(dir.path, 'truth.jsonl');
    expect(writeTruth(file, truths)).toBe(truths.length);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(truths.length);
    expect(lines.map((l) => JSON.parse(l) as ContactTruth)).toEqual(truths);
  });

  it('streams batch by batch with createTruthWriter and refuses writes after close', () => {
    const file = join(dir.path, 'streamed.jsonl');
    const writer = createTruthWriter(file);
    let expected = 0;
    for (const batch of generateAccount({ seed: 4, contacts: 1_200, now: NOW })) {
      writer.write(batch.truth);
      expected += batch.truth.length;
    }
    expect(writer.close()).toBe(expected);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(expected);
    expect(() => writer.write([])).toThrow(/closed/);
  });
});
