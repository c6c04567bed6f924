/**
 * The churn definition per portal, from configuration (`RAPPORT_CHURN` in the environment or in
 * rapport.config.json; docs/scores.md "The churn definition"):
 *
 *   { "horizonDays": 90, "confirmDays": 270,
 *     "signals": { "lostDealStages": ["renewal_lost"], "lostLifecycleStages": ["other"], "churnDateProperty": "churn_date" },
 *     "portals": { "<crm>:<id>": { "signals": { "lostDealStages": ["7543210"] } } } }
 *
 * Top-level fields apply to every portal; `portals` overrides them per portal (field by field).
 * Anything left out keeps the documented default (DEFAULT_CHURN_DEFINITION). Validated here with
 * zod, the only place the setting enters.
 */
import { z } from 'zod';
import { DEFAULT_CHURN_DEFINITION, type ChurnDefinition } from './churn.ts';

const stageList = z.array(z.string().trim().min(1)).max(100);
/**
 * A CRM property/field name: it goes into the CRM's query (a SOQL field list, HubSpot's
 * `properties=`), so only an identifier is accepted (HubSpot internal names and Salesforce API
 * names are both letters, digits and underscores: https://knowledge.hubspot.com/properties/create-and-edit-properties,
 * https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/custom_fields.htm).
 */
const propertyName = z
  .string()
  .trim()
  .max(100)
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a property or field name: letters, digits and underscores, starting with a letter');
const partialDefinition = z.strictObject({
  horizonDays: z.number().int().min(7).max(730).optional(),
  confirmDays: z.number().int().min(0).max(730).optional(),
  signals: z
    .strictObject({ lostDealStages: stageList.optional(), lostLifecycleStages: stageList.optional(), churnDateProperty: propertyName.optional() })
    .optional(),
});
export const churnSettingsSchema = partialDefinition.extend({
  portals: z.record(z.string().min(1), partialDefinition).optional(),
});
export type ChurnSettings = z.infer<typeof churnSettingsSchema>;

/**
 * Parses the setting: an object (config file) or its JSON text (environment). Errors come back
 * as data, each naming the field, so configuration can report them all at once.
 */
export function parseChurnSettings(raw: unknown): { ok: true; value: ChurnSettings } | { ok: false; errors: string[] } {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return { ok: false, errors: ['RAPPORT_CHURN is not valid JSON'] };
    }
  }
  const r = churnSettingsSchema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, errors: r.error.issues.map((i) => `RAPPORT_CHURN${i.path.length > 0 ? `.${i.path.join('.')}` : ''}: ${i.message}`) };
}

type Partial = z.infer<typeof partialDefinition>;

function merge(base: ChurnDefinition, p: Partial | undefined): ChurnDefinition {
  if (p === undefined) return base;
  return {
    horizonDays: p.horizonDays ?? base.horizonDays,
    confirmDays: p.confirmDays ?? base.confirmDays,
    signals: {
      lostDealStages: p.signals?.lostDealStages ?? base.signals.lostDealStages,
      lostLifecycleStages: p.signals?.lostLifecycleStages ?? base.signals.lostLifecycleStages,
      churnDateProperty: p.signals?.churnDateProperty ?? base.signals.churnDateProperty,
    },
  };
}

/** The definition a portal trains with: default ← top-level settings ← the portal's own. */
export function churnDefinitionFor(settings: ChurnSettings | undefined, portal: string): ChurnDefinition {
  if (settings === undefined) return DEFAULT_CHURN_DEFINITION;
  return merge(merge(DEFAULT_CHURN_DEFINITION, settings), settings.portals?.[portal]);
}
