import { CrmError } from '../../errors.ts';
import { scoreSpec, type ScoreField, type ScoreKey } from '../../scores.ts';
import type { HubspotHttp } from './http.ts';
import { Empty, GroupList, PropertyList } from './schemas.ts';

/** ARCHITECTURE §6: group `rapport` on contacts and one property per neutral score field. */
export const GROUP = { name: 'rapport', label: 'Rapport scores', displayOrder: -1 };

type PropertySpec = {
  name: string;
  label: string;
  type: 'number' | 'enumeration' | 'string' | 'datetime';
  fieldType: 'number' | 'select' | 'textarea' | 'text' | 'date';
  description: string;
  options?: { label: string; value: string; displayOrder: number; hidden: boolean }[];
};

const score = (key: ScoreKey, name: string): PropertySpec => ({
  name,
  label: `${scoreSpec(key).label} score`,
  type: 'number',
  fieldType: 'number',
  description: `${scoreSpec(key).description} 0–100, computed by Rapport. Read-only: Rapport overwrites it.`,
});

/** Every score field → its HubSpot contact property: a field left out does not compile. */
export const PROPERTY_OF: Record<ScoreField, PropertySpec> = {
  satisfaction: score('satisfaction', 'rapport_satisfaction'),
  loyalty: score('loyalty', 'rapport_loyalty'),
  churnRisk: score('churnRisk', 'rapport_churn_risk'),
  serviceNeed: score('serviceNeed', 'rapport_service_need'),
  health: {
    name: 'rapport_health',
    label: 'Customer health',
    type: 'enumeration',
    fieldType: 'select',
    description: 'Overall health band computed by Rapport.',
    options: ['green', 'yellow', 'red'].map((v, i) => ({ label: v[0]!.toUpperCase() + v.slice(1), value: v, displayOrder: i, hidden: false })),
  },
  reasons: { name: 'rapport_reasons', label: 'Score reasons', type: 'string', fieldType: 'textarea', description: 'Top factors behind the scores.' },
  scoredAt: { name: 'rapport_scored_at', label: 'Scored at', type: 'datetime', fieldType: 'date', description: 'When Rapport last computed the scores.' },
  modelVersion: { name: 'rapport_model_version', label: 'Score model version', type: 'string', fieldType: 'text', description: 'Model version used.' },
};

export const RAPPORT_PROPERTIES: readonly PropertySpec[] = Object.values(PROPERTY_OF);

/**
 * Idempotent: reads the existing group and properties (2 calls when already provisioned), creates
 * what is missing, treats 409 as "someone else just created it", and refuses — naming the
 * property — when one of ours exists with another type (we would write values it cannot hold).
 */
export async function provisionHubspot(http: HubspotHttp, signal: AbortSignal): Promise<{ created: string[] }> {
  const created: string[] = [];
  const groups = await http.request({ method: 'GET', path: '/crm/v3/properties/contacts/groups', schema: GroupList, signal });
  if (!groups.body.results.some((g) => g.name === GROUP.name)) {
    await tolerateConflict(() => http.request({ method: 'POST', path: '/crm/v3/properties/contacts/groups', body: GROUP, schema: Empty, signal }));
    created.push(`group:${GROUP.name}`);
  }
  const existing = await http.request({ method: 'GET', path: '/crm/v3/properties/contacts', schema: PropertyList, signal });
  const byName = new Map(existing.body.results.map((p) => [p.name, p]));
  const wrong = RAPPORT_PROPERTIES.filter((spec) => {
    const have = byName.get(spec.name);
    return have !== undefined && have.type !== spec.type;
  });
  if (wrong.length > 0) {
    const list = wrong.map((s) => `${s.name} is ${byName.get(s.name)?.type}, expected ${s.type}`).join('; ');
    throw new CrmError(
      'invalid_request',
      `HubSpot contact properties already exist with another type: ${list}. Delete or rename them in HubSpot (Settings → Properties), then provision again.`,
      { crm: 'hubspot', code: 'PROPERTY_TYPE_MISMATCH' },
    );
  }
  for (const spec of RAPPORT_PROPERTIES) {
    if (byName.has(spec.name)) continue;
    await tolerateConflict(() =>
      http.request({ method: 'POST', path: '/crm/v3/properties/contacts', body: { ...spec, groupName: GROUP.name }, schema: Empty, signal }),
    );
    created.push(spec.name);
  }
  return { created };
}

async function tolerateConflict(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof CrmError && e.details.status === 409) return;
    throw e;
  }
}
