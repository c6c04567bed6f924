/**
 * The card's entrypoint (rapport-card-hsmeta.json → "entrypoint"). `hubspot.extend` registers the
 * card; there is no default export (https://developers.hubspot.com/docs/apps/developer-platform/add-features/ui-extensibility/ui-extensions-sdk). Data comes through `hubspot.fetch`, which
 * HubSpot proxies and signs (X-HubSpot-Signature-v3) with the app's client secret (https://developers.hubspot.com/docs/platform/fetching-data-for-public-apps).
 */
import { hubspot } from '@hubspot/ui-extensions';
import { BACKEND_URL } from './backend.ts';
import { ScoreCard, type CardFetch } from './ScoreCard.tsx';

const hubspotFetch: CardFetch = (url, options) => hubspot.fetch(url, options);

hubspot.extend<'crm.record.tab'>(({ context }) => (
  <ScoreCard contactId={String(context.crm.objectId)} portalId={context.portal.id} backendUrl={BACKEND_URL} fetch={hubspotFetch} />
));
