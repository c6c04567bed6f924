import { HUBSPOT_OBJECT_TYPES, type HubspotObjectType } from '../model.ts';

/**
 * HubSpot-defined association type ids (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide, from the client's AssociationTypes enum).
 * Each entry: from, to, unlabeled id, reverse unlabeled id, and the primary pair when one exists.
 */
type PairSpec = readonly [HubspotObjectType, HubspotObjectType, number, number, (readonly [number, number])?];

const PAIRS: readonly PairSpec[] = [
  ['contacts', 'companies', 279, 280, [1, 2]],
  ['deals', 'companies', 341, 342, [5, 6]],
  ['tickets', 'companies', 339, 340, [26, 25]],
  ['deals', 'contacts', 3, 4],
  ['contacts', 'tickets', 15, 16],
  ['deals', 'tickets', 27, 28],
  ['contacts', 'calls', 193, 194],
  ['contacts', 'emails', 197, 198],
  ['contacts', 'meetings', 199, 200],
  ['contacts', 'notes', 201, 202],
  ['contacts', 'tasks', 203, 204],
  ['companies', 'calls', 181, 182],
  ['companies', 'emails', 185, 186],
  ['companies', 'meetings', 187, 188],
  ['companies', 'notes', 189, 190],
  ['companies', 'tasks', 191, 192],
  ['deals', 'calls', 205, 206],
  ['deals', 'emails', 209, 210],
  ['deals', 'meetings', 211, 212],
  ['deals', 'notes', 213, 214],
  ['deals', 'tasks', 215, 216],
  ['tickets', 'calls', 219, 220],
  ['tickets', 'emails', 223, 224],
  ['tickets', 'meetings', 225, 226],
  ['tickets', 'notes', 227, 228],
  ['tickets', 'tasks', 229, 230],
  ['contacts', 'feedback_submissions', 97, 98],
  ['tickets', 'feedback_submissions', 99, 100],
];

/**
 * User-defined association labels the sandbox portal has (every portal the same). HubSpot gives
 * custom labels small portal-scoped typeIds with `category: "USER_DEFINED"`; they are only
 * unique within one object pair, so they collide with HubSpot-defined ids of other pairs
 * (https://developers.hubspot.com/docs/api-reference/crm-associations-schema-v4/guide, "Association
 * definitions (labels)"; the v4 batch-read example lists a USER_DEFINED typeId 28 next to
 * HUBSPOT_DEFINED 1 and 279). These are chosen to collide with the *primary* ids of other pairs
 * (1 contact→company, 5 deal→company, 26 ticket→company), so a client deciding "primary" by
 * typeId alone, or by "has a label", gets it wrong. Each entry: from, to, typeId, reverse typeId, label.
 *
 * Stricter than HubSpot is known to be: one label per pair ("Decision maker", "Partner",
 * "Reported by") even reuses the typeId of the pair's *own* primary (1, 5, 26; reverse 2, 6, 25).
 * A type is named by category and typeId together (v4 create takes both, `associationCategory` +
 * `associationTypeId`, https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide),
 * so a client must check `category: "HUBSPOT_DEFINED"` as well as the typeId.
 */
const USER_LABELS: readonly (readonly [HubspotObjectType, HubspotObjectType, number, number, string])[] = [
  ['contacts', 'companies', 5, 6, 'Billing contact'],
  ['contacts', 'companies', 26, 25, 'Former employer'],
  ['contacts', 'companies', 1, 2, 'Decision maker'],
  ['deals', 'companies', 1, 2, 'Reseller'],
  ['deals', 'companies', 5, 6, 'Partner'],
  ['tickets', 'companies', 5, 7, 'Escalated to'],
  ['tickets', 'companies', 26, 25, 'Reported by'],
];

export type AssociationCategory = 'HUBSPOT_DEFINED' | 'USER_DEFINED';

/**
 * The sandbox's own name for an association type: the typeId for HubSpot-defined types, minus the
 * typeId for user-defined ones (the two may share a typeId within a pair). Stored rows, `associate`
 * and generated data use keys; only the wire shows `category` + `typeId`.
 */
export type TypeKey = number;

export const typeKey = (category: AssociationCategory, typeId: number): TypeKey => (category === 'USER_DEFINED' ? -typeId : typeId);

export type AssociationTypeInfo = {
  fromType: HubspotObjectType;
  toType: HubspotObjectType;
  /** the wire typeId (unique only together with `category`) */
  typeId: number;
  reverseTypeId: number;
  key: TypeKey;
  reverseKey: TypeKey;
  primary: boolean;
  /** the unlabeled type of the same direction (itself when not primary) */
  unlabeledTypeId: number;
  /** the pair also has a primary type, so v3 calls the unlabeled one `…_unlabeled` */
  pairHasPrimary: boolean;
  category: AssociationCategory;
  /** v4 `label`: "Primary", a user label, or null for the unlabeled type */
  label: string | null;
};

const byTypeId = new Map<string, AssociationTypeInfo>();
const unlabeledByPair = new Map<string, number>();
const key = (from: HubspotObjectType, to: HubspotObjectType) => `${from}>${to}`;

function register(info: AssociationTypeInfo) {
  byTypeId.set(`${key(info.fromType, info.toType)}#${info.key}`, info);
  if (!info.primary) unlabeledByPair.set(key(info.fromType, info.toType), info.typeId);
}

for (const [a, b, ab, ba, primary] of PAIRS) {
  const hasPrimary = primary !== undefined;
  const defined = { category: 'HUBSPOT_DEFINED' as const };
  register({ fromType: a, toType: b, typeId: ab, reverseTypeId: ba, key: ab, reverseKey: ba, primary: false, unlabeledTypeId: ab, pairHasPrimary: hasPrimary, ...defined, label: null });
  register({ fromType: b, toType: a, typeId: ba, reverseTypeId: ab, key: ba, reverseKey: ab, primary: false, unlabeledTypeId: ba, pairHasPrimary: hasPrimary, ...defined, label: null });
  if (primary) {
    const [pab, pba] = primary;
    register({ fromType: a, toType: b, typeId: pab, reverseTypeId: pba, key: pab, reverseKey: pba, primary: true, unlabeledTypeId: ab, pairHasPrimary: true, ...defined, label: 'Primary' });
    register({ fromType: b, toType: a, typeId: pba, reverseTypeId: pab, key: pba, reverseKey: pab, primary: true, unlabeledTypeId: ba, pairHasPrimary: true, ...defined, label: 'Primary' });
  }
}

for (const [a, b, ab, ba, label] of USER_LABELS) {
  const unlabeledAb = unlabeledByPair.get(key(a, b));
  const unlabeledBa = unlabeledByPair.get(key(b, a));
  if (unlabeledAb === undefined || unlabeledBa === undefined) throw new Error(`user label ${label}: no HubSpot-defined pair ${a}/${b}`);
  const pairHasPrimary = byTypeId.get(`${key(a, b)}#${unlabeledAb}`)?.pairHasPrimary ?? true;
  const user = { category: 'USER_DEFINED' as const, primary: false, pairHasPrimary, label };
  const [kab, kba] = [typeKey('USER_DEFINED', ab), typeKey('USER_DEFINED', ba)];
  byTypeId.set(`${key(a, b)}#${kab}`, { fromType: a, toType: b, typeId: ab, reverseTypeId: ba, key: kab, reverseKey: kba, unlabeledTypeId: unlabeledAb, ...user });
  byTypeId.set(`${key(b, a)}#${kba}`, { fromType: b, toType: a, typeId: ba, reverseTypeId: ab, key: kba, reverseKey: kab, unlabeledTypeId: unlabeledBa, ...user });
}

/** The type key of a pair's user-defined label by its name (sandbox portals all have the same labels). */
export function userLabelKey(from: HubspotObjectType, to: HubspotObjectType, label: string): TypeKey | undefined {
  const hit = USER_LABELS.find(([a, b, , , l]) => l === label && ((a === from && b === to) || (a === to && b === from)));
  if (hit === undefined) return undefined;
  return typeKey('USER_DEFINED', hit[0] === from ? hit[2] : hit[3]);
}

/** The HubSpot-defined primary typeId of a pair (contact→company 1, deal→company 5, ticket→company 26, …). */
export function primaryTypeId(from: HubspotObjectType, to: HubspotObjectType): number | undefined {
  for (const info of byTypeId.values()) if (info.fromType === from && info.toType === to && info.primary) return info.typeId;
  return undefined;
}

/** The type of a pair by its key (a stored row's type). */
export const associationTypeInfo = (from: HubspotObjectType, to: HubspotObjectType, k: TypeKey): AssociationTypeInfo | undefined =>
  byTypeId.get(`${key(from, to)}#${k}`);

/**
 * For the sandbox's own data API (`associate`, `load`, admin `?typeId=`): a key, where a positive
 * number that is no HubSpot-defined type of the pair names the pair's user label of that typeId
 * (so `5` is contact→company "Billing contact"); a label sharing a defined typeId needs its key (−typeId).
 */
export const resolveTypeKey = (from: HubspotObjectType, to: HubspotObjectType, k: TypeKey): AssociationTypeInfo | undefined =>
  associationTypeInfo(from, to, k) ?? (k > 0 ? associationTypeInfo(from, to, -k) : undefined);

export const defaultAssociationTypeId = (from: HubspotObjectType, to: HubspotObjectType): number | undefined =>
  unlabeledByPair.get(key(from, to));

/** v4 label: "Primary" for primary types, the user's label, null for unlabeled (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide example). */
export const associationLabel = (info: AssociationTypeInfo): string | null => info.label;

/**
 * v3 embedded `type`, e.g. `contact_to_company` (primary) and `contact_to_company_unlabeled`.
 * A user-defined label appears under its own name in snake case (e.g. `billing_contact`): how v3
 * spells labels is not documented (UNCONFIRMED), so the connector must treat only the exact
 * primary name as primary, and this makes any other reading fail in tests.
 */
export function v3AssociationTypeName(info: AssociationTypeInfo): string {
  if (info.category === 'USER_DEFINED') return (info.label ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '_');
  const base = `${HUBSPOT_OBJECT_TYPES[info.fromType].singular}_to_${HUBSPOT_OBJECT_TYPES[info.toType].singular}`;
  return info.pairHasPrimary && !info.primary ? `${base}_unlabeled` : base;
}

/**
 * The v3 names of a pair's types by key, computed once (the table is fixed at load): a list page
 * embeds one per association row, 800,000 in a bench:scale backfill of 20 × 10,000 contacts.
 */
const v3NamesByPair = new Map<string, Map<TypeKey, string>>();
for (const info of byTypeId.values()) {
  const pair = key(info.fromType, info.toType);
  let names = v3NamesByPair.get(pair);
  if (names === undefined) v3NamesByPair.set(pair, (names = new Map()));
  names.set(info.key, v3AssociationTypeName(info));
}
const NO_NAMES: ReadonlyMap<TypeKey, string> = new Map();
export const v3AssociationTypeNames = (from: HubspotObjectType, to: HubspotObjectType): ReadonlyMap<TypeKey, string> => v3NamesByPair.get(key(from, to)) ?? NO_NAMES;
