/**
 * The real entrypoint (RapportCard.tsx) as HubSpot runs it: registered through `hubspot.extend`,
 * data through `hubspot.fetch` (which calls the worker's `self.hsFetch` in @hubspot/ui-extensions), with the
 * backend URL and the portal from the extension context. The worker globals must exist before
 * @hubspot/ui-extensions loads, hence the dynamic imports.
 */
import { expect, it } from 'vitest';

type Extend = (fn: (api: { context: unknown; actions: unknown }) => unknown) => void;
const worker = globalThis as unknown as { self?: unknown; __HUBSPOT_EXTENSION_WORKER__?: boolean; extend_V2?: Extend; hsFetch?: unknown };

it('registers with hubspot.extend and loads the contact through hubspot.fetch', async () => {
  let render: ((api: { context: unknown; actions: unknown }) => unknown) | undefined;
  const calls: { url: string; options: unknown }[] = [];
  worker.self = globalThis;
  worker.__HUBSPOT_EXTENSION_WORKER__ = true;
  worker.extend_V2 = (fn) => {
    render = fn;
  };
  worker.hsFetch = async (url: string, options: unknown) => {
    calls.push({ url, options });
    return new Response(JSON.stringify({ state: 'not_scored', contactId: '4711' }), { status: 200, headers: { 'content-type': 'application/json' } });
  };

  await import('../../../ui-extension/hubspot/src/app/cards/RapportCard.tsx');
  const { BACKEND_URL } = await import('../../../ui-extension/hubspot/src/app/cards/backend.ts');
  const kit = await import('../../../ui-extension/hubspot/src/app/cards/test-kit.ts');
  if (render === undefined) throw new Error('RapportCard.tsx did not call hubspot.extend');

  const r = kit.createRenderer('crm.record.tab');
  const context = { ...r.mocks.context, portal: { id: 62515, timezone: 'Europe/Berlin' }, crm: { objectId: 4711, objectTypeId: '0-1' } };
  r.render(render({ context, actions: r.mocks.actions }) as Parameters<typeof r.render>[0]);
  await r.waitFor(() => expect(r.find(kit.EmptyState).props.title).toBe('Not scored yet'));
  expect(calls).toEqual([{ url: `${BACKEND_URL}/api/cards/contacts/4711?portalId=62515`, options: { method: 'GET', timeout: 10_000 } }]);
});
