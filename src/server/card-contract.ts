/**
 * The card API's response: the ONE schema shared by the CRM card (which parses every
 * payload with it) and the Rapport server (which builds its replies through it).
 *
 * This file is the source. The CRM only uploads the card's project folder, so the card cannot
 * import it across the repository: the project's `scripts/sync-contract.ts` (under ui-extension/)
 * copies it to its `src/app/cards/card-contract.ts`, and test/unit/cards/contract-copy.test.ts
 * fails when the copy drifts. Hence: import nothing here but `zod`.
 */
import { z } from 'zod';

export const CARD_SCORE_KEYS = ['satisfaction', 'loyalty', 'churnRisk', 'serviceNeed'] as const;
export type CardScoreKey = (typeof CARD_SCORE_KEYS)[number];

export const bandSchema = z.enum(['green', 'yellow', 'red']);
export type CardBand = z.infer<typeof bandSchema>;

/** Contact ids as they appear in URLs: numeric in one CRM, alphanumeric in another. */
export const contactIdSchema = z.string().regex(/^[A-Za-z0-9]{1,64}$/, 'contact id must be 1-64 letters or digits');

export const cardScoreSchema = z.object({
  /** 0-100 */
  value: z.number().min(0).max(100),
  band: bandSchema,
  /** 0-1 */
  confidence: z.number().min(0).max(1),
  /** value now minus the value 30 days ago (or when first scored, if later), in score points; null without history */
  change30d: z.number().nullable(),
  /**
   * the band cut-offs the band was computed with (the card's scale hint): higher-is-better scores
   * are green at or above `green` and red below `red`; churn risk and service need the other way
   */
  cutoffs: z.object({ green: z.number().min(0).max(100), red: z.number().min(0).max(100) }).optional(),
});
export type CardScore = z.infer<typeof cardScoreSchema>;

export const cardReasonSchema = z.object({
  score: z.enum(CARD_SCORE_KEYS),
  text: z.string().min(1).max(300),
  /** signed impact in score points */
  impact: z.number(),
});
export type CardReason = z.infer<typeof cardReasonSchema>;

export const MAX_CARD_REASONS = 5;

/**
 * A "Rescore now" still running (the card shows the cached scores and polls) or one that failed
 * after the answer was sent. Absent when no rescore is pending.
 */
export const rescoreMarkSchema = z.enum(['running', 'failed']).optional();

export const scoredCardSchema = z.object({
  state: z.literal('scored'),
  contactId: contactIdSchema,
  scores: z.object({
    satisfaction: cardScoreSchema,
    loyalty: cardScoreSchema,
    churnRisk: cardScoreSchema,
    serviceNeed: cardScoreSchema,
  }),
  /** overall health band */
  band: bandSchema,
  /** 0-1 */
  confidence: z.number().min(0).max(1),
  /** the strongest factors across the four scores, strongest first */
  reasons: z.array(cardReasonSchema).max(MAX_CARD_REASONS),
  scoredAt: z.iso.datetime({ offset: true }),
  modelVersion: z.string().min(1).max(100),
  rescore: rescoreMarkSchema,
  /** data problems found in the contact's records, in plain words: they lower confidence, never a score */
  dataIssues: z.array(z.string().min(1).max(200)).max(10).optional(),
  /** how the contact most likely reaches out (service need) */
  likelyChannel: z.enum(['emails', 'calls', 'meetings', 'tickets']).nullable().optional(),
});

/** The contact is in Rapport's cache but has not been scored yet. */
export const notScoredCardSchema = z.object({
  state: z.literal('not_scored'),
  contactId: contactIdSchema,
  rescore: rescoreMarkSchema,
});

/** Rapport lost access to the account (uninstalled or revoked): an admin must reconnect. */
export const disconnectedCardSchema = z.object({
  state: z.literal('disconnected'),
  contactId: contactIdSchema,
});

export const cardResponseSchema = z.discriminatedUnion('state', [scoredCardSchema, notScoredCardSchema, disconnectedCardSchema]);

export type ScoredCard = z.infer<typeof scoredCardSchema>;
export type CardResponse = z.infer<typeof cardResponseSchema>;
export type CardState = CardResponse['state'];

/** Every non-2xx reply of the card API: a code the card can branch on, never any record data. */
export const cardErrorSchema = z.object({
  error: z.object({
    code: z.enum(['unauthorized', 'not_found', 'bad_request', 'rescore_failed', 'internal']),
    message: z.string(),
  }),
});
export type CardError = z.infer<typeof cardErrorSchema>;

/** Paths of the card API, relative to the backend's public URL. */
export const cardApiPath = (contactId: string): string => `/api/cards/contacts/${encodeURIComponent(contactId)}`;
export const cardRescorePath = (contactId: string): string => `${cardApiPath(contactId)}/rescore`;
