/** Escapes text for HTML element content and attribute values. */
export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);

/** A minimal page with a title and one paragraph (install results shown in the admin's browser). */
export const messagePage = (title: string, body: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
  `<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(body)}</p></body></html>`;

/**
 * What a browser page (the card preview, the report) says when its address lacks a valid
 * `?portal=`: the same words on both, with the portals that can be asked for.
 */
export const portalHint = (connected: readonly string[]): string =>
  'This page needs the portal in its address: expected ?portal=hubspot:<hub id> or ?portal=salesforce:<org id>. ' +
  (connected.length === 0 ? 'No portal is connected yet.' : `Connected: ${connected.join(', ')}.`);
