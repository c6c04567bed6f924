/**
 * Rapport's contact card: the four scores with their 30-day change, the health band, confidence,
 * the top reasons, when and by which model it was scored, and "Rescore now".
 *
 * Only `@hubspot/ui-extensions` components render here (https://developers.hubspot.com/docs/apps/developer-platform/add-features/ui-extensibility/ui-extensions-sdk: no DOM, no `style`).
 * The data call is injected (`fetch`): HubSpot passes `hubspot.fetch` (RapportCard.tsx), the
 * tests a fake, and the local preview a same-origin fetch. Every payload is parsed with the
 * shared contract; anything else shows the error state.
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import {
  Alert,
  DescriptionList,
  DescriptionListItem,
  Divider,
  EmptyState,
  ErrorState,
  Flex,
  Heading,
  List,
  LoadingButton,
  LoadingSpinner,
  Statistics,
  StatisticsItem,
  StatisticsTrend,
  Tag,
  Text,
} from '@hubspot/ui-extensions';
import {
  CARD_SCORE_KEYS,
  cardApiPath,
  cardRescorePath,
  cardResponseSchema,
  type CardBand,
  type CardReason,
  type CardResponse,
  type CardScore,
  type CardScoreKey,
  type ScoredCard,
} from './card-contract.ts';

/** The subset of `hubspot.fetch` the card uses (https://developers.hubspot.com/docs/platform/fetching-data-for-public-apps: JSON body only, no custom headers needed). */
export type CardFetch = (
  url: string,
  options: { method: 'GET' | 'POST'; body?: Record<string, unknown>; timeout?: number },
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

export type ScoreCardProps = {
  /** HubSpot's record id (context.crm.objectId) */
  contactId: string;
  /** HubSpot's account id (context.portal.id) */
  portalId: number;
  /** the Rapport backend origin, listed in app-hsmeta.json permittedUrls.fetch */
  backendUrl: string;
  fetch: CardFetch;
  /** how often to re-read while a rescore is still running (default 2 s; tests pass less) */
  pollMs?: number;
};

export const SCORE_LABELS: Record<CardScoreKey, string> = {
  satisfaction: 'Satisfaction',
  loyalty: 'Loyalty',
  churnRisk: 'Churn risk',
  serviceNeed: 'Service need',
};

export const BAND_LABELS: Record<CardBand, string> = { green: 'Healthy', yellow: 'Needs attention', red: 'At risk' };
const BAND_VARIANTS: Record<CardBand, 'success' | 'warning' | 'error'> = { green: 'success', yellow: 'warning', red: 'error' };

/** For churn risk and service need a rise is bad news; for the others it is good news. */
const HIGHER_IS_WORSE: Record<CardScoreKey, boolean> = { satisfaction: false, loyalty: false, churnRisk: true, serviceNeed: true };

/** HubSpot gives a proxied fetch 15 s (https://developers.hubspot.com/docs/platform/fetching-data-for-public-apps); a rescore may take a few seconds. */
const READ_TIMEOUT_MS = 10_000;
const RESCORE_TIMEOUT_MS = 14_000;
/** The backend answers a slow rescore at once with `rescore: "running"`; the card re-reads until it is done. */
const POLL_MS = 2_000;
const MAX_POLLS = 30;
const pendingRescore = (v: View): 'running' | 'failed' | undefined =>
  v.kind === 'ready' && v.data.state !== 'disconnected' ? v.data.rescore : undefined;

/**
 * "2026-11-23 09:30:05 UTC": one unambiguous format for every rep, whatever their locale; with
 * seconds, so that "Rescore now" visibly refreshes it.
 */
export function formatScoredAt(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export const formatScore = (value: number): string => String(Math.round(value));
export const formatPercent = (x: number): string => `${Math.round(x * 100)}%`;
export const formatImpact = (impact: number): string => `${impact >= 0 ? '+' : '−'}${Math.abs(Math.round(impact * 10) / 10)}`;

/** Churn risk and service need are probabilities: shown with their unit. The band is the server's, decided on this same rounded value. */
export const formatScoreValue = (key: CardScoreKey, value: number): string => (HIGHER_IS_WORSE[key] ? `${formatScore(value)}%` : formatScore(value));

/** What the number means and where its bands start: "out of 100 · green ≥ 70, red < 40". */
export function scaleHint(key: CardScoreKey, cutoffs: { green: number; red: number } | undefined): string {
  const what = key === 'churnRisk' ? 'chance of leaving in 90 days' : key === 'serviceNeed' ? 'chance of a new ticket in 30 days' : 'out of 100';
  if (cutoffs === undefined) return what;
  const u = HIGHER_IS_WORSE[key] ? '%' : '';
  return HIGHER_IS_WORSE[key]
    ? `${what} · green < ${cutoffs.green}${u}, red ≥ ${cutoffs.red}${u}`
    : `${what} · green ≥ ${cutoffs.green}, red < ${cutoffs.red}`;
}

const CHANNEL_WORDS = { emails: 'email', calls: 'phone', meetings: 'meetings', tickets: 'support tickets' } as const;

/** "66%" or "66% — invalid phone number, deal dated in the future": data problems lower confidence, never a score. */
export function confidenceText(confidence: number, issues: readonly string[] | undefined): string {
  const list = issues ?? [];
  if (list.length === 0) return formatPercent(confidence);
  const more = list.length > 3 ? ` and ${list.length - 3} more` : '';
  return `${formatPercent(confidence)} — ${list.slice(0, 3).join(', ')}${more}`;
}
export const formatChange = (change: number): string => `${change >= 0 ? '+' : '−'}${Math.abs(Math.round(change))} in 30 days`;

type View =
  | { kind: 'loading' }
  | { kind: 'error'; message: string }
  | { kind: 'missing' }
  | { kind: 'ready'; data: CardResponse };

/** Turns one reply into a view: the contract or an error, never a half-parsed payload. */
async function toView(res: Awaited<ReturnType<CardFetch>>): Promise<View> {
  if (res.status === 404) return { kind: 'missing' };
  if (res.status === 401) return { kind: 'error', message: 'Rapport could not verify this request (signature rejected).' };
  if (!res.ok) return { kind: 'error', message: `Rapport answered with HTTP ${res.status}.` };
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    return { kind: 'error', message: 'Rapport sent a reply that is not JSON.' };
  }
  const parsed = cardResponseSchema.safeParse(body);
  return parsed.success ? { kind: 'ready', data: parsed.data } : { kind: 'error', message: 'Rapport sent a reply this card does not understand.' };
}

const errorText = (e: unknown): string => `Could not reach Rapport (${e instanceof Error ? e.message : String(e)}).`;

export function ScoreCard({ contactId, portalId, backendUrl, fetch, pollMs = POLL_MS }: ScoreCardProps) {
  const [view, setView] = useState<View>({ kind: 'loading' });
  const [rescoring, setRescoring] = useState(false);
  const [rescoreError, setRescoreError] = useState<string | null>(null);

  // The portal id travels in the signed URL: the backend checks that the contact belongs to it.
  const query = `?portalId=${encodeURIComponent(String(portalId))}`;
  const base = backendUrl.replace(/\/+$/, '');

  const load = useCallback(async () => {
    setView({ kind: 'loading' });
    try {
      setView(await toView(await fetch(`${base}${cardApiPath(contactId)}${query}`, { method: 'GET', timeout: READ_TIMEOUT_MS })));
    } catch (e) {
      setView({ kind: 'error', message: errorText(e) });
    }
  }, [fetch, base, contactId, query]);

  useEffect(() => {
    void load();
  }, [load]);

  const rescore = useCallback(async () => {
    setRescoring(true);
    setRescoreError(null);
    try {
      const res = await fetch(`${base}${cardRescorePath(contactId)}${query}`, { method: 'POST', body: {}, timeout: RESCORE_TIMEOUT_MS });
      let next = await toView(res);
      for (let i = 0; i < MAX_POLLS && pendingRescore(next) === 'running'; i++) {
        setView(next);
        await new Promise((r) => setTimeout(r, pollMs));
        next = await toView(await fetch(`${base}${cardApiPath(contactId)}${query}`, { method: 'GET', timeout: READ_TIMEOUT_MS }));
      }
      if (next.kind === 'ready') setView(next);
      else setRescoreError(next.kind === 'error' ? next.message : 'Rapport no longer knows this contact.');
      if (pendingRescore(next) === 'failed') setRescoreError('Rescoring failed; the last scores are still valid.');
      else if (pendingRescore(next) === 'running') setRescoreError('Rescoring is taking longer than usual; these are the last scores.');
    } catch (e) {
      setRescoreError(errorText(e));
    } finally {
      setRescoring(false);
    }
  }, [fetch, base, contactId, query, pollMs]);

  switch (view.kind) {
    case 'loading':
      return <LoadingSpinner testId="loading" label="Loading Rapport scores" showLabel layout="centered" />;
    case 'error':
      return (
        <ErrorState testId="error" title="Rapport scores are unavailable">
          <Text>{view.message}</Text>
          <LoadingButton testId="retry" variant="secondary" onClick={() => void load()}>
            Try again
          </LoadingButton>
        </ErrorState>
      );
    case 'missing':
      return (
        <EmptyState testId="not-synced" title="Not scored yet" layout="vertical" imageName="contacts">
          <Text>Rapport has not synced this contact yet. Scores appear after the next sync.</Text>
        </EmptyState>
      );
    case 'ready':
      break;
  }
  const data = view.data;
  if (data.state === 'disconnected') {
    return (
      <Alert testId="disconnected" title="Rapport is disconnected" variant="warning">
        Rapport lost access to this HubSpot account. An admin needs to reinstall the Rapport app to resume scoring.
      </Alert>
    );
  }
  const rescoreButton = (
    <LoadingButton testId="rescore" variant="secondary" size="sm" loading={rescoring} disabled={rescoring} onClick={() => void rescore()}>
      Rescore now
    </LoadingButton>
  );
  const rescoreAlert =
    rescoreError === null ? null : (
      <Alert testId="rescore-error" title="Rescore failed" variant="error">
        {rescoreError}
      </Alert>
    );
  if (data.state === 'not_scored') {
    return (
      <Flex direction="column" gap="sm">
        <EmptyState testId="not-scored" title="Not scored yet" layout="vertical" imageName="contacts">
          <Text>Rapport knows this contact but has not scored it yet.</Text>
          {rescoreButton}
        </EmptyState>
        {rescoreAlert}
      </Flex>
    );
  }
  return <Scored data={data} rescoreButton={rescoreButton} rescoreAlert={rescoreAlert} />;
}

function Scored({ data, rescoreButton, rescoreAlert }: { data: ScoredCard; rescoreButton: ReactNode; rescoreAlert: ReactNode }) {
  return (
    <Flex direction="column" gap="sm">
      <Flex direction="row" justify="between" align="center">
        <Flex direction="row" gap="xs" align="center">
          <Heading>Customer health</Heading>
          <Tag testId="band" variant={BAND_VARIANTS[data.band]}>
            {BAND_LABELS[data.band]}
          </Tag>
        </Flex>
        {rescoreButton}
      </Flex>
      <Statistics testId="scores">
        {CARD_SCORE_KEYS.map((key) => (
          <ScoreItem key={key} scoreKey={key} score={data.scores[key]} channel={key === 'serviceNeed' ? (data.likelyChannel ?? null) : null} />
        ))}
      </Statistics>
      <Divider />
      <Heading>Top reasons</Heading>
      <Text variant="microcopy" testId="reasons-legend">
        The number after each reason is how many points it moves that score (for churn risk and service need, + is bad news).
      </Text>
      {data.reasons.length === 0 ? (
        <Text testId="no-reasons">No single factor stands out.</Text>
      ) : (
        <List testId="reasons" variant="unordered-styled">
          {data.reasons.map((r, i) => (
            <ReasonText key={`${r.score}-${i}`} reason={r} index={i} />
          ))}
        </List>
      )}
      <DescriptionList direction="row">
        <DescriptionListItem label="Confidence">
          <Text testId="confidence">{confidenceText(data.confidence, data.dataIssues)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Scored at">
          <Text testId="scored-at">{formatScoredAt(data.scoredAt)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Model">
          <Text testId="model-version">{data.modelVersion}</Text>
        </DescriptionListItem>
      </DescriptionList>
      {rescoreAlert}
    </Flex>
  );
}

function ScoreItem({ scoreKey, score, channel }: { scoreKey: CardScoreKey; score: CardScore; channel: keyof typeof CHANNEL_WORDS | null }) {
  const change = score.change30d;
  const worse = HIGHER_IS_WORSE[scoreKey];
  return (
    <StatisticsItem testId={`score-${scoreKey}`} id={scoreKey} label={SCORE_LABELS[scoreKey]} number={formatScoreValue(scoreKey, score.value)}>
      <Tag testId={`band-${scoreKey}`} variant={BAND_VARIANTS[score.band]}>
        {BAND_LABELS[score.band]}
      </Tag>
      <Text variant="microcopy" testId={`hint-${scoreKey}`}>
        {scaleHint(scoreKey, score.cutoffs)}
      </Text>
      {channel === null ? null : (
        <Text variant="microcopy" testId="likely-channel">
          {`likely to reach out by ${CHANNEL_WORDS[channel]}`}
        </Text>
      )}
      {change === null || Math.round(change) === 0 ? (
        <Text variant="microcopy" testId={`trend-${scoreKey}`}>
          {change === null ? 'new' : 'no change in 30 days'}
        </Text>
      ) : (
        <StatisticsTrend
          testId={`trend-${scoreKey}`}
          direction={change > 0 ? 'increase' : 'decrease'}
          color={change > 0 === worse ? 'red' : 'green'}
          value={formatChange(change)}
        />
      )}
    </StatisticsItem>
  );
}

function ReasonText({ reason, index }: { reason: CardReason; index: number }) {
  return <Text testId={`reason-${index}`}>{`${SCORE_LABELS[reason.score]}: ${reason.text} (${formatImpact(reason.impact)} points)`}</Text>;
}
