import { hubspotProvider, type HubspotSettings } from './hubspot/provider.ts';
import { providerNameOf, type CrmProvider } from './provider.ts';
import { salesforceProvider, type SalesforceSettings } from './salesforce/provider.ts';

/**
 * The CRMs Rapport knows, by name (ARCHITECTURE.md §3). The only module outside
 * `src/connectors/<crm>/` that imports a CRM's code (eslint.config.js enforces it): everything
 * else asks the registry for a provider by the portals row's `crm` or the portal id's prefix.
 */

export type { HubspotSettings, SalesforceSettings };

export type Registry = {
  get(name: string): CrmProvider | undefined;
  /** the provider of a `<name>:<id>` portal id */
  ofPortal(portal: string): CrmProvider | undefined;
  list(): readonly CrmProvider[];
};

/** A name is a path segment (/oauth/<name>/install), a cookie suffix and a portal-id prefix. */
const NAME = /^[a-z][a-z0-9-]{0,30}$/;

export function createRegistry(providers: readonly CrmProvider[]): Registry {
  const byName = new Map<string, CrmProvider>();
  for (const p of providers) {
    if (!NAME.test(p.name)) throw new Error(`provider name "${p.name}" must match ${NAME.source}`);
    if (byName.has(p.name)) throw new Error(`two providers are named "${p.name}"`);
    byName.set(p.name, p);
  }
  const list = [...byName.values()];
  return {
    get: (name) => byName.get(name),
    ofPortal: (portal) => {
      const name = providerNameOf(portal);
      return name === undefined ? undefined : byName.get(name);
    },
    list: () => list,
  };
}

/** The CRMs of the product, in the order `--help`, docs and listings show them. */
export const DEFAULT_PROVIDERS: readonly CrmProvider[] = [hubspotProvider, salesforceProvider];

export const defaultRegistry: Registry = createRegistry(DEFAULT_PROVIDERS);

/** The default CRMs and these (e.g. a test's third CRM). */
export const registryWith = (...extra: CrmProvider[]): Registry => createRegistry([...DEFAULT_PROVIDERS, ...extra]);
