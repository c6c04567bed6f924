import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROPERTY_OF, RAPPORT_PROPERTIES } from '../../src/connectors/hubspot/provision.ts';
import { FIELD_OF } from '../../src/connectors/salesforce/write-scores.ts';
import { asScoreField, SCORE_FIELDS, SCORE_KEYS, SCORES, type ScoreField, type ScoreKey } from '../../src/scores.ts';
import { CARD_SCORE_KEYS, type CardScoreKey } from '../../src/server/card-contract.ts';
import { bandOf, DEFAULT_BANDS } from '../../src/scoring/bands.ts';
import { SCORERS } from '../../src/scoring/score-portal.ts';
import { migrate } from '../../src/store/db.ts';
import { createStore } from '../../src/store/index.ts';
import { MIGRATIONS } from '../../src/store/migrations.ts';
import { tempDir } from '../support/temp-dir.ts';

// Compile-time checks (`npm run typecheck`): a field added to ScoreField without a CRM mapping
// does not compile. `@ts-expect-error` fails the typecheck if the line ever stops being an error.
type WithANewField = ScoreField | 'newScore';
// @ts-expect-error the HubSpot mapping has no property for 'newScore'
const _hubspotMissing: Record<WithANewField, unknown> = PROPERTY_OF;
// @ts-expect-error the Salesforce mapping has no field for 'newScore'
const _salesforceMissing: Record<WithANewField, unknown> = FIELD_OF;
// The card contract (copied verbatim into the HubSpot project, so it imports only zod) names the
// same keys as the table: each list is assignable to the other's type, so they are equal sets.
const _cardFromTable: readonly CardScoreKey[] = SCORE_KEYS;
const _tableFromCard: readonly ScoreKey[] = CARD_SCORE_KEYS;
void [_hubspotMissing, _salesforceMissing, _cardFromTable, _tableFromCard];

describe('the SCORES table is the one source', () => {
  it('the card contract lists the table\'s scores in the table\'s order', () => {
    expect([...CARD_SCORE_KEYS]).toEqual([...SCORE_KEYS]);
  });

  it('every score has a scorer, default bands from the table and a band in its direction', () => {
    expect(Object.keys(SCORERS).sort()).toEqual([...SCORE_KEYS].sort());
    for (const s of SCORES) {
      expect(DEFAULT_BANDS[s.key]).toEqual(s.bands);
      const better = s.direction === 'higher_is_better';
      expect([bandOf(s.key, s.scale[1]), bandOf(s.key, s.scale[0])], s.key).toEqual(better ? ['green', 'red'] : ['red', 'green']);
    }
  });

  it.each([
    ['HubSpot', Object.fromEntries(SCORE_FIELDS.map((f) => [f, PROPERTY_OF[f].name]))],
    ['Salesforce', Object.fromEntries(SCORE_FIELDS.map((f) => [f, FIELD_OF[f].field]))],
  ])('%s maps every score field onto its own distinct property', (_crm, names) => {
    const values = Object.values(names);
    expect(Object.keys(names).sort()).toEqual([...SCORE_FIELDS].sort());
    expect(new Set(values).size).toBe(values.length);
  });

  it('HubSpot provisions exactly the mapped properties, the four scores as numbers labelled from the table', () => {
    expect(RAPPORT_PROPERTIES.map((p) => p.name).sort()).toEqual(SCORE_FIELDS.map((f) => PROPERTY_OF[f].name).sort());
    for (const s of SCORES) expect(PROPERTY_OF[s.key]).toMatchObject({ type: 'number', label: `${s.label} score` });
  });

  it('asScoreField accepts the fields and nothing else (old snake_case keys included)', () => {
    expect(SCORE_FIELDS.map(asScoreField)).toEqual(SCORE_FIELDS);
    expect(['churn_risk', 'scored_at', 'bogus', ''].map(asScoreField)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('migration 7: outbox and written rows move to the one spelling', () => {
  it('renames the snake_case keys of pending and written values, keeping the values', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'old.db');
      const old = new Database(path);
      migrate(old, path, MIGRATIONS.slice(0, 6));
      const before = { satisfaction: '70', churn_risk: '12', service_need: '40', scored_at: '2026-01-01T00:00:00.000Z', model_version: 'm1', health: 'green' };
      old.prepare("INSERT INTO outbox (portal, contact_id, properties, enqueued_at, next_attempt_at) VALUES ('x:1', 'c1', ?, 0, 0)").run(JSON.stringify(before));
      old.prepare("INSERT INTO written (portal, contact_id, properties, written_at) VALUES ('x:1', 'c1', ?, 0)").run(JSON.stringify({ churn_risk: '10', scored_at: 'then' }));
      old.close();

      const store = createStore({ path });
      try {
        const [item] = await store.outbox.due('x:1', 10);
        expect(item?.properties).toEqual({ satisfaction: '70', churnRisk: '12', serviceNeed: '40', scoredAt: '2026-01-01T00:00:00.000Z', modelVersion: 'm1', health: 'green' });
        expect(await store.outbox.lastWritten('x:1', 'c1')).toEqual({ churnRisk: '10', scoredAt: 'then' });
      } finally {
        await store.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});
