import { describe, expect, it } from 'vitest';
import { createProgressBars } from '../../../src/commands/progress.ts';

const p = (type: 'contacts' | 'deals', records: number, total: number | undefined) => ({
  portal: 'hubspot:1',
  type,
  pages: 1,
  records,
  changed: records,
  total,
  startedAt: 0,
});

describe('progress bars', () => {
  it('on a TTY draws one line per stream with done/total, rate and ETA, redrawn in place', () => {
    let out = '';
    let now = 10_000;
    const bars = createProgressBars((t) => void (out += t), true, () => now);
    bars.update(p('contacts', 500, 1000));
    expect(out).toMatch(/contacts +█{12}░{12} +500\/1000 +50\/s +ETA 10s/);
    now += 1000;
    out = '';
    bars.update(p('deals', 30, undefined));
    // moves up over the line drawn before and redraws both
    expect(out.startsWith('\x1b[1F')).toBe(true);
    expect(out).toMatch(/contacts .*\n.*deals +·{24} +30 /s);
  });

  it('off a TTY stays silent (scripts read the summary)', () => {
    let out = '';
    const bars = createProgressBars((t) => void (out += t), false, () => 1000);
    bars.update(p('contacts', 5, 10));
    bars.finish();
    expect(out).toBe('');
  });
});
