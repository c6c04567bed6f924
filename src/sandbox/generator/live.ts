/**
 * The demo's live phase: one new thing at a time (a call, an email, a ticket or a survey answer)
 * for a random existing contact, with its associations, so webhooks, sync and rescoring have
 * something to react to. Deterministic for a seed and the sequence of calls.
 */
import type { GeneratedBatch } from '../model.ts';
import { FIRST_NAMES, LAST_NAMES, callBody, feedbackComment, inboundEmailText, ticketContent, ticketSubject, type Tone } from './text.ts';
import { iso } from './format.ts';
import { associate, pushObject, type Sink } from './records.ts';
import { scaleMessiness } from './params.ts';
import { chance, createRng, deriveSeed, intBelow, logNormal, pick } from './random.ts';

/** Live ids start far above any generated account's (ID_BASES + up to ~10⁷ per type). */
export const LIVE_ID_BASE = 900_000_001;

const TONES: readonly Tone[] = ['positive', 'neutral', 'negative'];

/** What the last `next()` made: its kind, the tone of its text and, for a survey answer, the NPS value. */
export type LiveEvent = { contactId: string; kind: 'call' | 'email' | 'ticket' | 'survey'; tone: Tone; score: number | null };

export function createLiveActivity(options: {
  seed: number;
  now: number;
  /** first id to hand out (default LIVE_ID_BASE); ids count up by one across all types */
  firstId?: number;
}): {
  next(existingContactIds: readonly string[], at: number): GeneratedBatch;
  /** the event the last `next()` generated (bench/models.ts measures each one's effect on churn risk) */
  last(): LiveEvent | null;
} {
  let last: LiveEvent | null = null;
  const rng = createRng(deriveSeed(options.seed, 0x11ce));
  let nextId = options.firstId ?? LIVE_ID_BASE;
  const id = () => String(nextId++);
  return {
    last: () => last,
    next(existingContactIds, at) {
      if (existingContactIds.length === 0) throw new RangeError('createLiveActivity.next needs at least one existing contact id');
      // Never before the account's `now`: the live phase continues the generated history.
      const when = Math.round(Math.max(at, options.now));
      const sink: Sink = {
        rng,
        now: when,
        mess: scaleMessiness(0),
        ids: {} as Sink['ids'],
        batch: { objects: [], associations: [], truth: [] },
      };
      const contactId = pick(rng, existingContactIds);
      const tone = pick(rng, TONES);
      const kind = intBelow(rng, 4);
      last = { contactId, kind: (['call', 'email', 'ticket', 'survey'] as const)[kind] ?? 'survey', tone, score: null };
      if (kind === 0) {
        const callId = id();
        pushObject(sink, 'calls', callId, {
          hs_timestamp: iso(when),
          hs_call_title: `Inbound call from ${pick(rng, FIRST_NAMES)} ${pick(rng, LAST_NAMES)}`,
          hs_call_body: callBody(rng, tone),
          hs_call_direction: 'INBOUND',
          hs_call_disposition: 'f240bbac-87c9-4f6e-bf70-924b57d47db7',
          hs_call_status: 'COMPLETED',
          hs_call_duration: String(Math.round(logNormal(rng, 240, 0.7) * 1000)),
        }, when, when);
        associate(sink, 'calls', callId, 'contacts', contactId);
      } else if (kind === 1) {
        const emailId = id();
        const text = inboundEmailText(rng, tone);
        pushObject(sink, 'emails', emailId, {
          hs_timestamp: iso(when),
          hs_email_direction: 'INCOMING_EMAIL',
          hs_email_status: 'SENT',
          hs_email_subject: 'Re: Checking in',
          hs_email_text: text,
        }, when, when);
        associate(sink, 'emails', emailId, 'contacts', contactId);
      } else if (kind === 2) {
        const ticketId = id();
        const category = pick(rng, ['PRODUCT_ISSUE', 'BILLING_ISSUE', 'GENERAL_INQUIRY'] as const);
        pushObject(sink, 'tickets', ticketId, {
          subject: ticketSubject(rng, category),
          content: ticketContent(rng, tone),
          hs_pipeline: '0',
          hs_pipeline_stage: '1',
          hs_ticket_priority: tone === 'negative' ? pick(rng, ['HIGH', 'URGENT'] as const) : pick(rng, ['LOW', 'MEDIUM'] as const),
          hs_ticket_category: category,
          source_type: 'EMAIL',
          reopen_count: '0',
        }, when, when);
        associate(sink, 'tickets', ticketId, 'contacts', contactId);
      } else {
        const feedbackId = id();
        const score = tone === 'positive' ? 9 + intBelow(rng, 2) : tone === 'neutral' ? 7 + intBelow(rng, 2) : intBelow(rng, 7);
        last.score = score;
        const props: Record<string, string> = {
          hs_survey_id: '1',
          hs_survey_name: 'Quarterly NPS',
          hs_survey_type: 'NPS',
          hs_survey_channel: 'EMAIL',
          hs_value: String(score),
          hs_response_group: score >= 9 ? 'PROMOTER' : score >= 7 ? 'PASSIVE' : 'DETRACTOR',
          hs_submission_timestamp: iso(when),
          hs_contact_id: contactId,
        };
        if (chance(rng, 0.6)) props['hs_content'] = feedbackComment(rng, tone);
        pushObject(sink, 'feedback_submissions', feedbackId, props, when, when);
        associate(sink, 'feedback_submissions', feedbackId, 'contacts', contactId);
      }
      return sink.batch;
    },
  };
}
