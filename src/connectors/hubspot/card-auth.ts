/**
 * HubSpot's side of the card API (src/server/cards.ts): the card calls Rapport through
 * `hubspot.fetch`, which signs every request with the app's client secret, v3 only
 * (https://developers.hubspot.com/docs/apps/developer-platform/add-features/ui-extensibility/fetching-data,
 * https://developers.hubspot.com/docs/platform/fetching-data-for-public-apps → https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation). The same signature middleware as the webhook receiver's
 * (signature.ts); v1/v2 are never accepted here, whatever HUBSPOT_LEGACY_SIGNATURES says: a card
 * fetch always carries v3. The portal comes from the signed URL (`portalId`). The proxied fetch
 * gives Rapport 15 s and 1 MB (same page), hence "Rescore now" answering within 2 s
 * (src/server/rescores.ts); v3 signatures are valid for 5 minutes
 * (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation),
 * the window the card API's replay guard covers.
 */
import type { Context } from 'hono';
import type { CardAuthFailure, CardRequestAuth } from '../provider.ts';
import { hubspotSignature, type SignatureRejection, type SignedRequestEnv } from './signature.ts';

const MESSAGES: Record<SignatureRejection, string> = {
  no_secret: 'The card API needs HUBSPOT_CLIENT_SECRET to verify HubSpot signatures.',
  missing_signature: 'Invalid or expired HubSpot signature.',
  legacy_signature: 'Invalid or expired HubSpot signature.',
  bad_signature: 'Invalid or expired HubSpot signature.',
  bad_timestamp: 'Invalid or expired HubSpot signature.',
  stale_timestamp: 'Invalid or expired HubSpot signature.',
  too_large: 'Request body too large.',
};

export function hubspotCardAuth(o: { clientSecret: string | undefined; publicUrl?: string | undefined; now(): number }): CardRequestAuth {
  return (refuse) => {
    const signed = hubspotSignature({
      clientSecret: o.clientSecret,
      publicUrl: o.publicUrl,
      allowLegacy: false,
      now: o.now,
      onReject: (c, reason, status) => refuse(c, { status, code: reason, message: MESSAGES[reason] }),
    });
    return async (c, next) => {
      let refusal: Response | undefined;
      // one request, seen with the variables of both middlewares
      const signedCtx = c as unknown as Context<SignedRequestEnv>;
      const res = await signed(signedCtx, async () => {
        // The card sends portalId itself and HubSpot may append it too (https://developers.hubspot.com/docs/platform/fetching-data-for-public-apps): all must agree.
        const portalIds = c.req.queries('portalId') ?? [];
        const portalId = portalIds[0];
        if (portalId === undefined || !/^\d{1,20}$/.test(portalId) || portalIds.some((p) => p !== portalId)) {
          const failure: CardAuthFailure = { status: 400, code: 'bad_portal', message: 'portalId query parameter is required (one numeric value).' };
          refusal = await refuse(c, failure);
          return;
        }
        c.set('portal', `hubspot:${portalId}`);
        c.set('replayKey', signedCtx.get('signature'));
        await next();
      });
      return res ?? refusal;
    };
  };
}
