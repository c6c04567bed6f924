/**
 * Held case of issue 15: XSS strings in every CRM text field Rapport keeps (contact, company,
 * deal, ticket, engagement, survey) never reach served HTML unescaped: the report page on the
 * operator listener, the card preview page, and the card API's JSON that the card renders as text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrmRecord } from '../../src/connectors/types.ts';
import { scoreContacts } from '../../src/scoring/score-portal.ts';
import { contact, engagement, NOW, PORTAL, purchase, survey, ticket } from '../unit/scoring/fixtures.ts';
import { startRapport, type Harness } from '../unit/server/harness.ts';
import { cardHeaders } from './support.ts';

const PAYLOADS = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
  '</style></script><iframe src=javascript:alert(1)>',
];
const RAW = ['<script>alert(1)', '<img src=x', '<svg onload', '<iframe src=javascript'];
const x = (i: number) => PAYLOADS[i % PAYLOADS.length] ?? '';

function hostileRecords(): CrmRecord[] {
  const out: CrmRecord[] = [];
  for (let n = 0; n < 8; n++) {
    const id = `9${n}`;
    out.push(
      contact(id, { email: x(n), emailRaw: x(n + 1), phone: x(n + 2), phoneRaw: x(n + 3), firstName: x(n), lastName: x(n + 1), lifecycleStage: x(n + 2) }, { companyId: `co${n}` }),
      { portal: PORTAL, type: 'companies', id: `co${n}`, contactIds: undefined, companyId: null, updatedAt: NOW, deleted: false, data: { name: x(n), domain: x(n + 1), industry: x(n + 2), createdAt: NOW - 1e10 } as never },
      { ...purchase(id, 30 + n, 500), data: { ...(purchase(id, 30 + n, 500).data as object), amountRaw: x(n), stage: x(n + 1) } as never },
      ticket(id, 10 + n, { subject: x(n), content: x(n + 1), source: x(n + 2), stage: x(n) }),
      engagement('calls', id, 5 + n, 'inbound', x(n)),
      engagement('emails', id, 3 + n, 'inbound', `${x(n + 1)} angry, cancel, terrible`),
      engagement('notes', id, 2 + n, 'outbound', x(n + 2)),
      survey(id, 'NPS', 3, 20 + n, x(n + 3)),
      survey(id, 'CSAT', 2, 15 + n, x(n), x(n + 1)),
    );
  }
  return out;
}

describe('XSS strings in CRM text (held)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRapport({ now: () => NOW });
    await h.store.portals.upsert({ portal: PORTAL, crm: 'hubspot', externalId: '42', baseUrl: 'http://x', scopes: [] });
    await h.store.records.upsertPage(hostileRecords());
    await scoreContacts(h.store, PORTAL, { contactIds: 'all', now: NOW });
  });
  afterAll(async () => h.close());

  it('the report page escapes everything', async () => {
    const res = await fetch(`${h.operatorUrl}/report?portal=${PORTAL}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const raw of RAW) expect(html).not.toContain(raw);
  });

  it('the preview page carries only validated ids', async () => {
    const html = await (await fetch(`${h.operatorUrl}/preview/contacts/90?portal=${PORTAL}`)).text();
    for (const raw of RAW) expect(html).not.toContain(raw);
    const bad = await fetch(`${h.operatorUrl}/preview/contacts/90?portal=${encodeURIComponent(`${PORTAL}"><script>alert(1)</script>`)}`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).not.toContain('<script>');
  });

  it('the card API answers JSON (rendered as text by the card), never HTML', async () => {
    for (let n = 0; n < 8; n++) {
      const path = `/api/cards/contacts/9${n}?portalId=42`;
      const res = await fetch(`${h.url}${path}`, { headers: cardHeaders({ method: 'GET', publicUrl: h.config.publicUrl, pathAndQuery: path, now: NOW }) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    }
  });
});
