/**
 * Re-exports for the root project's card tests (test/unit/cards): imported from here, React and
 * the HubSpot components resolve to THIS package's node_modules, the same copies the card uses
 * (two Reacts would break hooks). Not referenced by the card itself.
 */
export { createElement } from 'react';
export { createRenderer } from '@hubspot/ui-extensions/testing';
export * from '@hubspot/ui-extensions';
