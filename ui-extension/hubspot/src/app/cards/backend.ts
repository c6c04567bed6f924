/**
 * The public https origin of your Rapport server (RAPPORT_PUBLIC_URL). hubspot.fetch only calls
 * absolute https URLs whose origin is listed in app-hsmeta.json `permittedUrls.fetch`
 * (https://developers.hubspot.com/docs/platform/fetching-data-for-public-apps): change both before `hs project upload` (see ui-extension/hubspot/README.md).
 */
export const BACKEND_URL = 'https://rapport.example.com';
