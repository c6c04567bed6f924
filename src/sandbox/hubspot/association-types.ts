import { HUBSPOT_OBJECT_TYPES, type HubspotObjectType } from '../model.ts';

/**
 * HubSpot-defined association type ids (hubspot.md §1.7, from the client's AssociationTypes enum).
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

export type AssociationTypeInfo = {
  fromType: HubspotObjectType;
  toType: HubspotObjectType;
  typeId: number;
  reverseTypeId: number;
  primary: boolean;
  /** the unlabeled type of the same direction (itself when not primary) */
  unlabeledTypeId: number;
  /** the pair also has a primary type, so v3 calls the unlabeled one `…_unlabeled` */
  pairHasPrimary: boolean;
};

const byTypeId = new Map<string, AssociationTypeInfo>();
const unlabeledByPair = new Map<string, number>();
const key = (from: HubspotObjectType, to: HubspotObjectType) => `${from}>${to}`;

function register(info: AssociationTypeInfo) {
  byTypeId.set(`${key(info.fromType, info.toType)}#${info.typeId}`, info);
  if (!info.primary) unlabeledByPair.set(key(info.fromType, info.toType), info.typeId);
}

for (const [a, b, ab, ba, primary] of PAIRS) {
  const hasPrimary = primary !== undefined;
  register({ fromType: a, toType: b, typeId: ab, reverseTypeId: ba, primary: false, unlabeledTypeId: ab, pairHasPrimary: hasPrimary });
  register({ fromType: b, toType: a, typeId: ba, reverseTypeId: ab, primary: false, unlabeledTypeId: ba, pairHasPrimary: hasPrimary });
  if (primary) {
    const [pab, pba] = primary;
    register({ fromType: a, toType: b, typeId: pab, reverseTypeId: pba, primary: true, unlabeledTypeId: ab, pairHasPrimary: true });
    register({ fromType: b, toType: a, typeId: pba, reverseTypeId: pab, primary: true, unlabeledTypeId: ba, pairHasPrimary: true });
  }
}

export const associationTypeInfo = (from: HubspotObjectType, to: HubspotObjectType, typeId: number): AssociationTypeInfo | undefined =>
  byTypeId.get(`${key(from, to)}#${typeId}`);

export const defaultAssociationTypeId = (from: HubspotObjectType, to: HubspotObjectType): number | undefined =>
  unlabeledByPair.get(key(from, to));

/** v4 label: "Primary" for primary types, null for unlabeled (hubspot.md §1.7 example). */
export const associationLabel = (info: AssociationTypeInfo): string | null => (info.primary ? 'Primary' : null);

/** v3 embedded `type`, e.g. `contact_to_company` (primary) and `contact_to_company_unlabeled`. */
export function v3AssociationTypeName(info: AssociationTypeInfo): string {
  const base = `${HUBSPOT_OBJECT_TYPES[info.fromType].singular}_to_${HUBSPOT_OBJECT_TYPES[info.toType].singular}`;
  return info.pairHasPrimary && !info.primary ? `${base}_unlabeled` : base;
}
