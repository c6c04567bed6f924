import { describe, expect, it } from 'vitest';
import { FIELD_OF_PROPERTY, readProperties } from '../../../src/connectors/hubspot/mapping.ts';
import { OBJECT_TYPES } from '../../../src/connectors/types.ts';
import { describeIssue } from '../../../src/scoring/explain.ts';
import { readIssues } from '../../../src/store/issues.ts';

describe('data issues are data', () => {
  it('every HubSpot property Rapport reads names one of our fields, so no issue can carry a HubSpot name', () => {
    const missing = OBJECT_TYPES.flatMap((type) => readProperties(type).filter((p) => FIELD_OF_PROPERTY[p] === undefined).map((p) => `${type}.${p}`));
    expect(missing).toEqual([]);
  });

  it('rows cached before issues became data keep their code; their CRM property name is never shown', () => {
    const read = readIssues(['future_date:closedate', 'invalid_phone', 'something else', 42, { code: 'missing', field: 'deals.closedAt' }, { code: 'nope', field: 'x' }], 'deals');
    expect(read).toEqual([
      { code: 'future_date', field: 'deals.other' },
      { code: 'invalid_phone', field: 'deals.other' },
      { code: 'missing', field: 'deals.closedAt' },
    ]);
    expect(read.map(describeIssue)).toEqual(['date in the future (deal field)', 'invalid phone number', 'missing deal close date']);
    expect(readIssues(undefined, 'contacts')).toEqual([]);
    expect(readIssues('not a list', 'contacts')).toEqual([]);
  });
});
