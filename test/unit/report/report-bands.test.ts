/**
 * The report's band trend and segment colours (issue 17, "What the card and report say"): the
 * breakdown's last row is health now minus health 30 days before, per band, from each contact's
 * score history; each segment has its own colour, the same in the table's swatch and the map.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../../src/report/index.ts';
import { scoreContacts } from '../../../src/scoring/score-portal.ts';
import { trainPortal } from '../../../src/scoring/train.ts';
import type { Store } from '../../../src/store/index.ts';
import { svgBlocks } from './html-checks.ts';
import { GEN_NOW, generatedStore } from './generated-store.ts';

const PORTAL = 'hubspot:8';
const DAY = 86_400_000;
const EARLIER = GEN_NOW - 40 * DAY;
let env: { store: Store; cleanup: () => Promise<void> };

beforeAll(async () => {
  env = await generatedStore(PORTAL, 500, 5);
  // scored once 40 days ago (the cold-start prior), then trained and scored again today: the
  // trained model moves contacts between bands, so the trend has something to show
  await scoreContacts(env.store, PORTAL, { contactIds: 'all', now: EARLIER });
  await trainPortal(env.store, PORTAL, { now: GEN_NOW });
  await scoreContacts(env.store, PORTAL, { contactIds: 'all', now: GEN_NOW });
});
afterAll(() => env.cleanup());

const bandRow = (html: string, label: RegExp): string[] => {
  const table = html.slice(html.indexOf('id="band-breakdown"'), html.indexOf('</table>', html.indexOf('id="band-breakdown"')));
  const row = table.split('<tr>').find((r) => label.test(r));
  if (row === undefined) throw new Error(`no row ${label.source}`);
  return [...row.matchAll(/<td>(.*?)<\/td>/g)].map((m) => m[1] as string);
};

describe('report band trend', () => {
  it('shows health now minus health as each contact stood 30 days before, per band, signed', async () => {
    const r = await buildReport(env.store, PORTAL, { generatedAt: GEN_NOW, asOf: GEN_NOW });
    if ('error' in r) throw new Error(r.message);
    const { bands } = r.data;
    expect(bands.beforeAt).toBe(GEN_NOW - 30 * DAY);
    const before = bands.healthBefore;
    if (before === null) throw new Error('history of 40 days ago not found');
    // the earlier pass is the state 30 days before: every contact had a health band then
    expect(before).toEqual(await env.store.scores.healthAsOf(PORTAL, EARLIER));
    expect(before.green + before.yellow + before.red).toBe(r.data.scored);
    const now = bands.health;
    expect(now).not.toEqual(before);
    const signed = (d: number) => `${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d).toLocaleString('en-US')}`;
    const cells = bandRow(r.html, /Health change since/);
    expect(cells.slice(1)).toEqual([signed(now.red - before.red), signed(now.yellow - before.yellow), signed(now.green - before.green)]);
    // the changes of a closed population add up to nothing
    expect(now.red - before.red + (now.yellow - before.yellow) + (now.green - before.green)).toBe(0);
  });

  it('says so when no score is 30 days old, instead of inventing a trend', async () => {
    const r = await buildReport(env.store, PORTAL, { generatedAt: EARLIER + DAY, asOf: EARLIER + DAY });
    if ('error' in r) throw new Error(r.message);
    expect(r.data.bands.healthBefore).toBeNull();
    expect(bandRow(r.html, /Health change since/).slice(1)).toEqual(['–', '–', '–']);
    expect(r.html).toContain('no score history that old yet');
  });
});

describe('report segment colours', () => {
  it('gives every segment its own colour, the same in the table swatch and on the map', async () => {
    const r = await buildReport(env.store, PORTAL, { generatedAt: GEN_NOW });
    if ('error' in r) throw new Error(r.message);
    const seg = r.data.segments;
    if ('unavailable' in seg) throw new Error(seg.unavailable);
    const section = r.html.slice(r.html.indexOf('id="segments"'));
    const table = section.slice(section.indexOf('<table'), section.indexOf('</table>'));
    const swatches = [...table.matchAll(/<tr><td><span class="swatch" style="background:(#[0-9a-f]{6})"><\/span>([^<]*)<\/td>/g)].map((m) => ({ colour: m[1] as string, name: m[2] as string }));
    expect(swatches.map((s) => s.name)).toEqual(seg.summaries.map((s) => s.name));
    expect(swatches.length).toBeGreaterThan(1);
    expect(new Set(swatches.map((s) => s.colour)).size).toBe(swatches.length);
    // the map draws each segment's points in that segment's colour: the colours on the map are the table's
    const map = svgBlocks(r.html.slice(r.html.indexOf('id="segment-map"')))[0] ?? '';
    const circleFills = new Set([...map.matchAll(/aria-roledescription="circle"[^>]*?fill="(#[0-9a-f]{6})"|fill="(#[0-9a-f]{6})"[^>]*?aria-roledescription="circle"/g)].map((m) => m[1] ?? m[2]));
    expect([...circleFills].sort()).toEqual(swatches.map((s) => s.colour).sort());
  });
});
