/**
 * The models one portal is scored with: the latest trained versions from store.models, or the
 * documented cold-start defaults. Stored params are parsed with zod (a stored row from an older
 * version must fail loudly into the defaults, not score garbage).
 */
import { z } from 'zod';
import type { Store } from '../store/index.ts';
import { DEFAULT_CHURN_DEFINITION, PRIOR_CHURN, type ChurnDefinition, type ProbabilityModel } from './churn.ts';
import { CHANNELS, type Channel } from './features.ts';
import { DEFAULT_LOYALTY, type LoyaltyParams } from './loyalty.ts';
import { DEFAULT_SATISFACTION, type SatisfactionParams } from './satisfaction.ts';
import { DEFAULT_CHANNEL_MIX, PRIOR_SERVICE } from './service-need.ts';
import { COLUMN_NAMES } from './vector.ts';

export const PRIOR_VERSION = 'prior-1';

export type PortalModels = {
  version: string;
  churn: ProbabilityModel;
  churnDefinition: ChurnDefinition;
  service: ProbabilityModel;
  channelMix: Record<Channel, number>;
  loyalty: LoyaltyParams;
  satisfaction: SatisfactionParams;
};

const finite = z.number().refine(Number.isFinite);
const linearSchema = z.object({
  source: z.enum(['trained', 'prior']),
  columns: z.array(z.string()),
  intercept: finite,
  coefficients: z.array(finite),
  means: z.array(finite),
});
export const churnParamsSchema = z.object({
  model: linearSchema,
  // Models stored before issue 17 carry `activity` (inbound counted as staying) and no signals:
  // they parse (the extra key is dropped) and keep scoring until the next training run.
  definition: z.object({
    horizonDays: z.number().positive(),
    confirmDays: z.number().min(0).default(0),
    signals: z
      .object({ lostDealStages: z.array(z.string()), lostLifecycleStages: z.array(z.string()), churnDateProperty: z.string().optional() })
      .default({ lostDealStages: [], lostLifecycleStages: [] }),
  }),
});
export const serviceParamsSchema = z.object({
  model: linearSchema,
  channelMix: z.object({ emails: finite, calls: finite, meetings: finite, tickets: finite }),
});
const positive = z.number().positive().refine(Number.isFinite);
export const loyaltyParamsSchema = z.object({
  bgNbd: z.object({ r: positive, alpha: positive, a: positive, b: positive }),
  gammaGamma: z.object({ p: positive, q: positive, gamma: positive }),
  expectedRef: positive,
  rfmEdges: z.object({ recency: z.array(finite), frequency: z.array(finite), monetary: z.array(finite) }),
});
export const satisfactionParamsSchema = z.object({ prior: z.number().min(0).max(1) });

/** A stored linear model is only usable over the same columns, in the same order. */
function usable(m: z.infer<typeof linearSchema>): boolean {
  return m.columns.length === COLUMN_NAMES.length && m.columns.every((c, i) => c === COLUMN_NAMES[i]);
}

export async function loadPortalModels(store: Pick<Store, 'models'>, portal: string): Promise<PortalModels> {
  const out: PortalModels = {
    version: PRIOR_VERSION,
    churn: PRIOR_CHURN,
    churnDefinition: DEFAULT_CHURN_DEFINITION,
    service: PRIOR_SERVICE,
    channelMix: DEFAULT_CHANNEL_MIX,
    loyalty: DEFAULT_LOYALTY,
    satisfaction: DEFAULT_SATISFACTION,
  };
  const versions: string[] = [];
  const churn = await store.models.latest(portal, 'churn');
  const c = churnParamsSchema.safeParse(churn?.params);
  if (churn !== undefined && c.success && usable(c.data.model)) {
    out.churn = c.data.model;
    out.churnDefinition = c.data.definition;
    versions.push(churn.version);
  }
  const service = await store.models.latest(portal, 'service_need');
  const s = serviceParamsSchema.safeParse(service?.params);
  if (service !== undefined && s.success && usable(s.data.model)) {
    out.service = s.data.model;
    const mix = s.data.channelMix;
    out.channelMix = Object.fromEntries(CHANNELS.map((ch) => [ch, mix[ch]])) as Record<Channel, number>;
    versions.push(service.version);
  }
  const loyalty = await store.models.latest(portal, 'loyalty');
  const l = loyaltyParamsSchema.safeParse(loyalty?.params);
  if (loyalty !== undefined && l.success) {
    out.loyalty = l.data;
    versions.push(loyalty.version);
  }
  const sat = await store.models.latest(portal, 'satisfaction');
  const sp = satisfactionParamsSchema.safeParse(sat?.params);
  if (sat !== undefined && sp.success) {
    out.satisfaction = sp.data;
    versions.push(sat.version);
  }
  // One training run writes the same version for every kind; mixed versions are shown joined.
  const distinct = [...new Set(versions)];
  if (distinct.length > 0) out.version = distinct.join('+') + (versions.length < 4 ? '+prior' : '');
  return out;
}
