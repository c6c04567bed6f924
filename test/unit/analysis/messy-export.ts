/**
 * A seeded generator of a messy "customer export" CSV with a known churn signal, exercising every
 * cleaning rule of `rapport model eval`: a text id, a sequential account number, free-text notes
 * (with quotes, commas and newlines), a constant column, a categorical plan with inconsistent
 * spelling and a rare level, a numeric column with blanks, a small-cardinality integer whose effect
 * is non-linear, and labels written as Yes/no/" YES "/N.
 */
import { createRandom } from '../../../src/stats/random.ts';

export type MessyOptions = { seed: number; rows: number; shuffleLabels?: boolean };

const PLANS = ['Basic', 'basic ', 'BASIC', 'Pro', 'pro', 'Enterprise'];
const WORDS = ['customer', 'called', 'about', 'billing', 'and', 'asked', 'for', 'a', 'discount', 'on', 'the', 'renewal', 'again'];

export function messyChurnCsv(opts: MessyOptions): { text: string; churned: number } {
  const random = createRandom(opts.seed);
  const normal = () => {
    const u = Math.max(1e-12, random());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const header = ['customer_id', 'account_number', 'notes', 'region', 'plan', 'monthly_spend', 'tenure_months', 'support_tickets', 'Churned'];
  const labels: boolean[] = [];
  const rows: string[][] = [];
  for (let i = 0; i < opts.rows; i++) {
    // two rare plans: each too rare for a dummy of its own, together enough for "(other)"
    const plan = i % 131 === 5 ? 'Legacy' : i % 200 === 9 ? 'Starter' : (PLANS[Math.floor(random() * PLANS.length)] as string);
    const planKey = plan.trim().toLowerCase();
    const tenure = Math.floor(random() * 60) + 1;
    const tickets = Math.min(5, Math.floor(-Math.log(Math.max(1e-12, random())) * 1.5));
    const spend = 20 + 80 * random();
    // Non-linear in tickets: 0–2 harmless, 3+ strongly raise churn.
    const eta = -0.5 - 0.06 * tenure + (tickets >= 3 ? 2.5 : 0) + (planKey === 'basic' ? 0.8 : planKey === 'enterprise' ? -0.8 : 0) - 0.01 * (spend - 60) + 0.3 * normal();
    const churn = random() < 1 / (1 + Math.exp(-eta));
    labels.push(churn);
    const words = Array.from({ length: 8 + Math.floor(random() * 6) }, () => WORDS[Math.floor(random() * WORDS.length)] as string);
    rows.push([
      `C-${String(10000 + i)}`,
      String(500000 + i),
      // quotes, commas and a newline inside a quoted field
      `"${words.join(' ')}, said ""${words[0]}""${i % 10 === 0 ? '\nfollow-up needed' : ''}"`,
      'EU',
      i % 13 === 0 ? `"${plan}"` : plan,
      i % 11 === 0 ? '' : spend.toFixed(2),
      String(tenure),
      String(tickets),
      '',
    ]);
  }
  if (opts.shuffleLabels) {
    for (let i = labels.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [labels[i], labels[j]] = [labels[j] as boolean, labels[i] as boolean];
    }
  }
  const spellings = { yes: ['Yes', ' YES ', 'yes', 'Y'], no: ['No', 'no', 'N', 'NO '] };
  rows.forEach((row, i) => {
    const s = labels[i] ? spellings.yes : spellings.no;
    row[8] = s[i % s.length] as string;
  });
  const text = [header.join(','), ...rows.map((r) => r.join(','))].join('\r\n') + '\r\n';
  return { text, churned: labels.filter(Boolean).length };
}
