import type { HubspotObjectType } from '../model.ts';
import { builtInGroups, builtInProperties, type PropertyDefinition, type PropertyGroup } from './property-definitions.ts';
import type { SandboxStorage } from './storage.ts';

/**
 * One portal's property definitions for one object type: HubSpot's built-ins plus the custom ones
 * created through the API (stored in the sandbox's SQLite file). Cached per (portal, type) since
 * every write and search consults them.
 */
export type PropertyRegistry = {
  definitions(hubId: number, type: HubspotObjectType): PropertyDefinition[];
  definition(hubId: number, type: HubspotObjectType, name: string): PropertyDefinition | undefined;
  groups(hubId: number, type: HubspotObjectType): PropertyGroup[];
  addDefinition(hubId: number, type: HubspotObjectType, def: PropertyDefinition): void;
  addGroup(hubId: number, type: HubspotObjectType, group: PropertyGroup): void;
};

/** Custom ticket property the generator fills (src/sandbox/generator): a number, created at portal setup in real life. */
const EXTRA_BUILT_INS: Partial<Record<HubspotObjectType, (at: number) => PropertyDefinition[]>> = {
  tickets: (at) => [
    {
      ...(builtInProperties('tickets', at)[0] as PropertyDefinition),
      name: 'reopen_count',
      label: 'Reopen count',
      type: 'number',
      fieldType: 'number',
      hubspotDefined: false,
      readOnlyValue: false,
      externalOptions: false,
      options: [],
    },
  ],
};

export function createPropertyRegistry(storage: SandboxStorage): PropertyRegistry {
  // built-ins carry a fixed creation time: they predate every portal
  const BUILT_IN_AT = Date.UTC(2019, 0, 1);
  const cache = new Map<string, Map<string, PropertyDefinition>>();
  const key = (hubId: number, type: HubspotObjectType) => `${hubId}:${type}`;

  const load = (hubId: number, type: HubspotObjectType): Map<string, PropertyDefinition> => {
    const k = key(hubId, type);
    let defs = cache.get(k);
    if (defs === undefined) {
      defs = new Map();
      for (const d of builtInProperties(type, BUILT_IN_AT)) defs.set(d.name, d);
      for (const d of EXTRA_BUILT_INS[type]?.(BUILT_IN_AT) ?? []) defs.set(d.name, d);
      for (const d of storage.customDefinitions(hubId, type)) defs.set(d.name, d);
      cache.set(k, defs);
    }
    return defs;
  };

  return {
    definitions: (hubId, type) => [...load(hubId, type).values()],
    definition: (hubId, type, name) => load(hubId, type).get(name),
    groups(hubId, type) {
      const byName = new Map<string, PropertyGroup>();
      for (const g of builtInGroups(type)) byName.set(g.name, g);
      for (const g of storage.customGroups(hubId, type)) byName.set(g.name, g);
      return [...byName.values()];
    },
    addDefinition(hubId, type, def) {
      storage.saveDefinition(hubId, type, def);
      load(hubId, type).set(def.name, def);
    },
    addGroup(hubId, type, group) {
      storage.saveGroup(hubId, type, group);
    },
  };
}
