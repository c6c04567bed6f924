/**
 * The generator's truth and the training label count the same event (issue 17: "truth and label
 * follow the same definition"). The synthetic customer is the BG/NBD process itself
 * (src/sandbox/generator/customer.ts): it drops out right after a repeat purchase and never buys
 * again. The label (src/scoring/churn-label.ts) looks at the purchases after a cut-off and asks
 * "not alive at cut + H?". So on customers drawn by the generator, with the generator's own
 * population parameters, the label must be the posterior of the simulated event: calibrated on
 * average and ranking the customers who really left above those who did not.
 */
import { describe, expect, it } from 'vitest';
import type { CrmRecord } from '../../../src/connectors/types.ts';
import { drawCustomer } from '../../../src/sandbox/generator/customer.ts';
import { BG_NBD } from '../../../src/sandbox/generator/params.ts';
import { createRng } from '../../../src/sandbox/generator/random.ts';
import { DEFAULT_CHURN_DEFINITION } from '../../../src/scoring/churn.ts';
import { churnEvidence, churnLabel } from '../../../src/scoring/churn-label.ts';
import { rocAuc } from '../../../src/stats/metrics.ts';
import { contact, DAY, inputOf, NOW, purchase } from './fixtures.ts';

const def = DEFAULT_CHURN_DEFINITION;
/** the label window (cut, cut + H + Q] ends today, so the generated history holds all of it */
const CUT = NOW - (def.horizonDays + def.confirmDays) * DAY;
const HORIZON_END = CUT + def.horizonDays * DAY;

type Row = { label: number; gone: boolean };

/** Customers who had bought by the cut, their label from their records and the simulation's truth. */
function sample(seed: number, n: number): Row[] {
  const rng = createRng(seed);
  const rows: Row[] = [];
  for (let i = 0; rows.length < n; i++) {
    const c = drawCustomer(rng, NOW);
    const first = c.purchases[0] as number;
    if (first > CUT) continue; // not a customer yet at the cut-off: never labelled
    const id = `c${i}`;
    const records: CrmRecord[] = [contact(id, { createdAt: c.createdAt }), ...c.purchases.map((t) => purchase(id, (NOW - t) / DAY))];
    const e = churnEvidence(inputOf(records, id), CUT, def, undefined, NOW);
    // truly gone by the horizon: dropped out (after a purchase) at or before cut + H
    rows.push({ label: churnLabel(e, BG_NBD, def.confirmDays / 7), gone: c.diedAt !== null && c.diedAt <= HORIZON_END });
  }
  return rows;
}

describe('generator truth and churn label', () => {
  const rows = sample(11, 4_000);
  const gone = rows.filter((r) => r.gone);
  const stayed = rows.filter((r) => !r.gone);

  it('a customer who bought after the horizon is labelled 0, and truly did not leave by it', () => {
    // the label's only hard 0 is a purchase in the confirmation window: proof of being alive
    const zeros = rows.filter((r) => r.label === 0);
    expect(zeros.length).toBeGreaterThan(200);
    expect(zeros.every((r) => !r.gone)).toBe(true);
  });

  it('is calibrated: the mean label equals the share who really left (within 1 point; seed 11: 22.5 % vs 22.3 %)', () => {
    expect(gone.length).toBeGreaterThan(300);
    const meanLabel = rows.reduce((s, r) => s + r.label, 0) / rows.length;
    const rate = gone.length / rows.length;
    expect(Math.abs(meanLabel - rate)).toBeLessThan(0.01);
  });

  it('ranks those who left above those who stayed (AUC ≥ 0.95; seed 11: 0.98), and a quiet alive customer is not labelled as gone', () => {
    expect(rocAuc(rows.map((r) => (r.gone ? 1 : 0)), rows.map((r) => r.label))).toBeGreaterThan(0.95);
    const mean = (xs: Row[]) => xs.reduce((s, r) => s + r.label, 0) / xs.length;
    expect(mean(gone)).toBeGreaterThan(0.7);
    expect(mean(stayed)).toBeLessThan(0.1);
  });
});
