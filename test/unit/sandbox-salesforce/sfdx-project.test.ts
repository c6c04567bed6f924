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

const PROJECT = join(OBJECTS, '../../../..');

it('sfdx-project.json describes an unlocked package: one default package directory with a package name and a version number', async () => {
  const { z } = await import('zod');
  // the fields an unlocked package version needs (https://developer.salesforce.com/docs/atlas.en-us.sfdx_dev.meta/sfdx_dev/sfdx_dev_config_values.htm)
  const Project = z.object({
    packageDirectories: z
      .array(z.object({ path: z.string(), default: z.boolean().optional(), package: z.string().optional(), versionName: z.string().optional(), versionNumber: z.string().optional() }))
      .min(1),
    namespace: z.string(),
    sourceApiVersion: z.string().regex(/^\d{2}\.0$/),
  });
  const project = Project.parse(JSON.parse(readFileSync(join(PROJECT, 'sfdx-project.json'), 'utf8')));
  const dirs = project.packageDirectories.filter((d) => d.default === true);
  expect(dirs).toHaveLength(1);
  const dir = dirs[0]!;
  expect(dir.package).toBe('Rapport');
  expect(dir.versionNumber).toMatch(/^\d+\.\d+\.\d+\.(NEXT|\d+)$/);
  expect(dir.versionName).toBeTruthy();
  expect(readdirSync(join(PROJECT, dir.path, 'main/default'))).toEqual(expect.arrayContaining(['lwc', 'objects', 'permissionsets']));
});

it('.forceignore keeps the Jest tests and the Node toolchain out of deploys and package versions', () => {
  const lines = readFileSync(join(PROJECT, '.forceignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  expect(lines).toEqual(expect.arrayContaining(['**/__tests__/**', '**/jsconfig.json', 'node_modules/', 'package.json']));
});

it('the permission sets carry the object permissions their field permissions need', () => {
  const root = join(OBJECTS, '..');
  const objectPerms = (file: string) =>
    Object.fromEntries(
      [...readFileSync(join(root, 'permissionsets', file), 'utf8').matchAll(/<objectPermissions>([\s\S]*?)<\/objectPermissions>/g)].map((m) => {
        const flag = (name: string) => new RegExp(`<${name}>true</${name}>`).test(m[1]!);
        return [/<object>(\w+)<\/object>/.exec(m[1]!)![1]!, { read: flag('allowRead'), edit: flag('allowEdit'), create: flag('allowCreate'), del: flag('allowDelete') }];
      }),
    );
  const integration = objectPerms('Rapport_Integration.permissionset-meta.xml');
  // editing the score fields needs Edit on Contact; reading every synced object needs Read (View All Data adds the records)
  expect(integration['Contact']).toEqual({ read: true, edit: true, create: false, del: false });
  for (const o of ['Account', 'Opportunity', 'Case', 'Survey_Response__c']) expect(integration[o]).toEqual({ read: true, edit: false, create: false, del: false });
  expect(objectPerms('Rapport_Viewer.permissionset-meta.xml')).toEqual({ Contact: { read: true, edit: false, create: false, del: false } });
});
