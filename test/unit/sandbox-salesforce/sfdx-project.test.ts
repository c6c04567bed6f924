import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FIELD_OF } from '../../../src/connectors/salesforce/write-scores.ts';
import { RAPPORT_CONTACT_FIELDS, SOBJECTS } from '../../../src/sandbox/salesforce/index.ts';

const OBJECTS = join(import.meta.dirname, '../../../ui-extension/salesforce/force-app/main/default/objects');
const fieldsOf = (obj: string) =>
  readdirSync(join(OBJECTS, obj, 'fields'))
    .map((f) => f.replace(/\.field-meta\.xml$/, ''))
    .sort();

it('the SFDX project deploys exactly the fields the connector writes and the emulator serves', () => {
  const deployed = fieldsOf('Contact');
  expect(deployed).toEqual(Object.values(FIELD_OF).map((s) => s.field).sort());
  expect(deployed).toEqual(RAPPORT_CONTACT_FIELDS.map((f) => f.name).sort());
  const health = readFileSync(join(OBJECTS, 'Contact/fields/Rapport_Health__c.field-meta.xml'), 'utf8');
  expect([...health.matchAll(/<fullName>(green|yellow|red)<\/fullName>/g)].map((m) => m[1])).toEqual(['green', 'yellow', 'red']);
});

it('the custom survey object and the case reopen counter match the emulator', () => {
  const custom = SOBJECTS.Survey_Response__c!.fields.filter((f) => f.custom === true).map((f) => f.name);
  expect(fieldsOf('Survey_Response__c')).toEqual(custom.sort());
  expect(fieldsOf('Case')).toEqual(SOBJECTS.Case!.fields.filter((f) => f.custom === true).map((f) => f.name));
});

it("the integration permission set grants the custom permission customers' automation checks to skip Rapport's writes, and View All Data", () => {
  const root = join(OBJECTS, '..');
  const permission = readFileSync(join(root, 'customPermissions/Rapport_Score_Writer.customPermission-meta.xml'), 'utf8');
  expect(permission).toContain('<CustomPermission xmlns="http://soap.sforce.com/2006/04/metadata">');
  const set = readFileSync(join(root, 'permissionsets/Rapport_Integration.permissionset-meta.xml'), 'utf8');
  expect(set).toMatch(/<customPermissions>\s*<enabled>true<\/enabled>\s*<name>Rapport_Score_Writer<\/name>\s*<\/customPermissions>/);
  expect(set).toMatch(/<userPermissions>\s*<enabled>true<\/enabled>\s*<name>ViewAllData<\/name>\s*<\/userPermissions>/);
  // the viewer set (reps) must not carry it, or the customer's automation would skip the reps' own edits
  expect(readFileSync(join(root, 'permissionsets/Rapport_Viewer.permissionset-meta.xml'), 'utf8')).not.toContain('Rapport_Score_Writer');
});
