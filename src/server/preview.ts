/**
 * The card preview (mounted at /preview, for local development, the demo and the browser test):
 * `GET /contacts/:id?portal=<crm>:123` serves a real HTML page that runs THE SAME card component
 * as the CRM shows, with react-dom. The provider's `cardPreview` names the card's entry and the
 * CRM UI-library import that is aliased to a small DOM implementation; the bundle is built with
 * esbuild: ahead of time by `npm run build` (dist/preview/card.js, what production serves: it has
 * no esbuild), on first use when running from source.
 *
 * No CRM signature here, so it is mounted only on the operator listener (operator.ts: loopback,
 * Host allowlist, same-origin POSTs), answers loopback peers only unless `allowRemote` is set, and
 * only reads the store; "Rescore now" goes through the same per-contact limit as the card's.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import type { CardPreviewSource } from '../connectors/provider.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { contactIdSchema, type CardError } from './card-contract.ts';
import { buildCardResponse, withRescoreMark } from './cards.ts';
import { escapeHtml, messagePage, portalHint } from '../html.ts';
import { createRescores, type Rescores } from './rescores.ts';

export type PreviewDeps = {
  store: Store;
  now: () => number;
  rescore: (portal: string, contactId: string) => Promise<void>;
  /** the rescore limit shared with the card API (default: one of its own over `rescore`) */
  rescores?: Rescores;
  logger: Logger;
  /** answer non-loopback clients too (default false: the preview has no authentication) */
  allowRemote?: boolean;
  /** the card's UI source (its provider's `cardPreview`); unset → the page says the card is unavailable */
  card: CardPreviewSource | undefined;
};

/** Where `npm run build` writes the bundle: dist/preview/card.js, beside dist/server/ (this file's dir). */
export const PREBUILT_BUNDLE = fileURLToPath(new URL('../preview/card.js', import.meta.url));
/** Running the build (dist/*.js), not the TypeScript source through tsx. */
const RUNNING_BUILD = !import.meta.url.endsWith('.ts');
/** `<provider name>:<account id>` */
const PORTAL_RE = /^[a-z][a-z0-9_-]{0,30}:[A-Za-z0-9]{1,40}$/;
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

const errorBody = (code: CardError['error']['code'], message: string): CardError => ({ error: { code, message } });

/** Bundles the card for the browser; rejects with a readable reason (missing npm ci, broken card). */
export async function bundlePreview(card: CardPreviewSource): Promise<string> {
  if (!existsSync(`${card.packagesDir}/node_modules/react-dom`)) {
    throw new Error(`the card's packages are not installed: run "npm ci" in ${card.packagesDir}`);
  }
  const shim = card.uiModuleDom;
  // only this exact import is replaced
  const only = new RegExp(`^${card.uiModule.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
  // esbuild is a build tool: load it only when the preview is first requested.
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [card.entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    jsx: 'automatic',
    minify: true,
    logLevel: 'silent',
    // one React for the card, the shim and react-dom: the card package's own copy
    nodePaths: [`${card.packagesDir}/node_modules`],
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [
      {
        name: 'ui-library-dom',
        setup(b) {
          b.onResolve({ filter: only }, () => ({ path: shim }));
        },
      },
    ],
  });
  const file = out.outputFiles[0];
  if (file === undefined) throw new Error('esbuild produced no output');
  return file.text;
}

/**
 * The bundle the preview serves: the build's file when running the build (esbuild is a
 * devDependency, absent in production), else bundled now from the card's source (so edits show).
 */
export async function loadPreviewBundle(opts: { card?: CardPreviewSource | undefined; runningBuild?: boolean; prebuilt?: string } = {}): Promise<string> {
  const prebuilt = opts.prebuilt ?? PREBUILT_BUNDLE;
  if (opts.runningBuild ?? RUNNING_BUILD) {
    try {
      return await readFile(prebuilt, 'utf8');
    } catch (e) {
      const reason = e instanceof Error && 'code' in e ? String(e.code) : String(e);
      throw new Error(`the card preview bundle ${prebuilt} is missing (${reason}): run "npm run build"`, { cause: e });
    }
  }
  if (opts.card === undefined) throw new Error('no configured CRM has a card to preview');
  return bundlePreview(opts.card);
}

/** Looks of a CRM record-tab card, roughly: enough for a demo and a screenshot. */
const CSS = `
*{box-sizing:border-box}body{margin:0;background:#f5f8fa;font:14px/1.5 "Lexend Deca",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#33475b}
.hs-page{max-width:760px;margin:24px auto;padding:0 16px}.hs-page>header{font-size:12px;color:#7c98b6;margin-bottom:8px}
.hs-card{background:#fff;border:1px solid #cbd6e2;border-radius:4px;padding:20px 24px}
.hs-flex{display:flex}.hs-dir-row{flex-direction:row}.hs-dir-column{flex-direction:column}.hs-wrap{flex-wrap:wrap}
.hs-gap-xs{gap:4px}.hs-gap-sm{gap:12px}.hs-gap-md{gap:20px}.hs-gap-lg{gap:28px}
.hs-justify-between{justify-content:space-between}.hs-justify-center{justify-content:center}.hs-justify-end{justify-content:flex-end}.hs-justify-around{justify-content:space-around}
.hs-align-center{align-items:center}.hs-align-start{align-items:flex-start}.hs-align-end{align-items:flex-end}.hs-align-baseline{align-items:baseline}
.hs-heading{font-size:16px;font-weight:600;margin:0}.hs-text{margin:0}.hs-microcopy{font-size:12px;color:#516f90}.hs-weight-bold,.hs-weight-demibold{font-weight:600}
.hs-tag{display:inline-block;border-radius:3px;padding:1px 8px;font-size:12px;font-weight:600;border:1px solid}
.hs-tag-default{background:#eaf0f6;border-color:#cbd6e2}.hs-tag-info{background:#e5f5f8;border-color:#7fd1de}
.hs-tag-success{background:#e5f8f6;border-color:#7fded2;color:#00a38d}.hs-tag-warning{background:#fef8f0;border-color:#fae0b5;color:#b36b00}.hs-tag-error{background:#fde8e9;border-color:#f8a9ad;color:#d94c53}
.hs-statistics{display:grid;grid-template-columns:repeat(4,1fr);gap:16px}.hs-stat-label{font-size:12px;text-transform:uppercase;color:#516f90}
.hs-stat-number{font-size:28px;font-weight:300}.hs-trend{font-size:12px}.hs-trend-green{color:#00a38d}.hs-trend-red{color:#d94c53}
.hs-button{border-radius:3px;border:1px solid #ff7a59;background:#ff7a59;color:#fff;padding:8px 16px;font:inherit;font-weight:600;cursor:pointer}
.hs-button-secondary{background:#fff;color:#ff7a59}.hs-button-sm{padding:4px 12px;font-size:12px}.hs-button:disabled{opacity:.6;cursor:default}
.hs-alert{border:1px solid #7fd1de;background:#e5f5f8;border-radius:3px;padding:12px 16px}.hs-alert-title{display:block}
.hs-alert-warning{border-color:#fae0b5;background:#fef8f0}.hs-alert-error,.hs-alert-danger{border-color:#f8a9ad;background:#fde8e9}
.hs-empty{text-align:center;padding:24px;display:flex;flex-direction:column;gap:12px;align-items:center}
.hs-list{margin:0;padding-left:20px}.hs-divider{border:0;border-top:1px solid #dfe3eb;margin:4px 0;width:100%}
.hs-dl{display:flex;gap:32px;margin:0}.hs-dl.hs-dir-column{flex-direction:column;gap:8px}.hs-dl dt{font-size:12px;color:#516f90}.hs-dl dd{margin:0}
.hs-loading{display:flex;gap:8px;align-items:center;justify-content:center;padding:24px}
.hs-spinner{width:16px;height:16px;border:2px solid #cbd6e2;border-top-color:#ff7a59;border-radius:50%;display:inline-block;animation:hs-spin .8s linear infinite}
.hs-spinner-inline{width:10px;height:10px;margin-right:6px;vertical-align:-1px}@keyframes hs-spin{to{transform:rotate(360deg)}}
`;

function page(contactId: string, portal: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>Rapport card preview · contact ${escapeHtml(contactId)}</title><style>${CSS}</style></head>
<body><main class="hs-page"><header>Rapport card preview — ${escapeHtml(portal)} · contact ${escapeHtml(contactId)} (local preview: reads Rapport's cache; "Rescore now" rescores this contact)</header>
<section class="hs-card"><div id="rapport-card" data-contact-id="${escapeHtml(contactId)}" data-portal="${escapeHtml(portal)}"></div></section></main>
<script type="module" src="../assets/card.js"></script></body></html>`;
}

export function createPreviewRoutes(deps: PreviewDeps): Hono {
  const { store, logger } = deps;
  const app = new Hono();
  const rescores = deps.rescores ?? createRescores({ rescore: deps.rescore, now: deps.now, logger });
  let bundle: Promise<string> | undefined;

  app.use('*', async (c, next) => {
    if (deps.allowRemote !== true && !isLoopback(c)) {
      return c.json(errorBody('unauthorized', 'The card preview only answers local clients.'), 403);
    }
    await next();
    c.header('Cache-Control', 'no-store');
  });

  /** Validates :id and ?portal=; a Response when they are malformed. */
  function target(c: Context): Response | { portal: string; contactId: string } {
    const portal = c.req.query('portal');
    const id = contactIdSchema.safeParse(c.req.param('id'));
    if (portal === undefined || !PORTAL_RE.test(portal)) {
      return c.json(errorBody('bad_request', 'Add ?portal=<crm>:<account id>, e.g. ?portal=mycrm:12345678.'), 400);
    }
    if (!id.success) return c.json(errorBody('not_found', 'Not found.'), 404);
    return { portal, contactId: id.data };
  }

  app.get('/contacts/:id', async (c) => {
    const t = target(c);
    // A page opened in a browser: its errors are pages too, worded like the report's (the API
    // routes below keep answering in the card contract's JSON).
    if (t instanceof Response) {
      return t.status === 400
        ? c.html(messagePage('Which portal?', portalHint((await store.portals.list()).map((p) => p.portal))), 400)
        : c.html(messagePage('Not found', 'The address names no contact: use /preview/contacts/<contact id>?portal=….'), 404);
    }
    return c.html(page(t.contactId, t.portal));
  });

  app.get('/assets/card.js', async (c) => {
    bundle ??= loadPreviewBundle({ card: deps.card });
    try {
      return c.body(await bundle, 200, { 'content-type': 'text/javascript; charset=utf-8' });
    } catch (e) {
      bundle = undefined; // let a later request retry (e.g. after npm ci)
      const message = e instanceof Error ? e.message : String(e);
      logger.error({ err: message }, 'card preview bundle failed');
      return c.text(`// card preview unavailable: ${message}\n`, 503, { 'content-type': 'text/javascript; charset=utf-8' });
    }
  });

  app.get('/api/cards/contacts/:id', async (c) => {
    const t = target(c);
    if (t instanceof Response) return t;
    const payload = withRescoreMark(await buildCardResponse(store, t.portal, t.contactId, deps.now()), rescores.mark(t.portal, t.contactId));
    return payload === undefined ? c.json(errorBody('not_found', 'Not found.'), 404) : c.json(payload, 200);
  });

  app.post('/api/cards/contacts/:id/rescore', async (c) => {
    const t = target(c);
    if (t instanceof Response) return t;
    const before = await buildCardResponse(store, t.portal, t.contactId, deps.now());
    if (before === undefined) return c.json(errorBody('not_found', 'Not found.'), 404);
    if (before.state === 'disconnected') return c.json(before, 200);
    const outcome = await rescores.request(t.portal, t.contactId);
    if (outcome.started && outcome.state === 'failed') {
      return c.json(errorBody('rescore_failed', 'Rescoring failed; the last scores are still valid.'), 503);
    }
    const after = withRescoreMark(await buildCardResponse(store, t.portal, t.contactId, deps.now()), rescores.mark(t.portal, t.contactId));
    return after === undefined ? c.json(errorBody('not_found', 'Not found.'), 404) : c.json(after, 200);
  });

  app.notFound((c) => c.json(errorBody('not_found', 'Not found.'), 404));
  return app;
}

/** The peer address from @hono/node-server; anything else (e.g. app.request in tests) is not loopback. */
function isLoopback(c: Context): boolean {
  try {
    const address = getConnInfo(c).remote.address;
    return address !== undefined && LOOPBACK.has(address);
  } catch {
    return false;
  }
}
