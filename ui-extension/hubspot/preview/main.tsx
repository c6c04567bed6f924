/**
 * The preview page's script: renders the card's own component (ScoreCard) with react-dom, with
 * the Rapport preview API standing in for HubSpot's signed proxy. Bundled by src/server/preview.ts.
 */
import { createRoot } from 'react-dom/client';
import { ScoreCard, type CardFetch } from '../src/app/cards/ScoreCard.tsx';

const root = document.getElementById('rapport-card');
if (root === null) throw new Error('preview page without #rapport-card');
const contactId = root.dataset['contactId'] ?? '';
const portal = root.dataset['portal'] ?? '';
/** where the preview routes are mounted: this script is served at <mount>/assets/card.js */
const mount = new URL('../', import.meta.url).toString().replace(/\/$/, '');

/** The card builds HubSpot-style URLs (…?portalId=N); the preview API is keyed by the full portal id. */
const previewFetch: CardFetch = async (url, options) => {
  const u = new URL(url);
  u.searchParams.delete('portalId');
  u.searchParams.set('portal', portal);
  const init: RequestInit = { method: options.method, headers: { accept: 'application/json' } };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
  }
  const res = await window.fetch(u, init);
  return { ok: res.ok, status: res.status, json: () => res.json() as Promise<unknown> };
};

createRoot(root).render(<ScoreCard contactId={contactId} portalId={0} backendUrl={mount} fetch={previewFetch} />);
