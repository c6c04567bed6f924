/**
 * A small DOM implementation of the `@hubspot/ui-extensions` components the card uses, for the
 * local preview only. The real components are remote-ui strings that render only inside HubSpot
 * (react-dom throws "No remote-ui Render instance found"), so the preview bundle
 * aliases the package to this file and renders THE SAME card source with react-dom.
 *
 * Props are the real ones (types imported from the package); `testId` becomes `data-testid`.
 * Anything the card starts using that is missing here fails the preview bundle loudly.
 */
import type { ReactNode } from 'react';
import type {
  AlertProps,
  DescriptionListItemProps,
  DescriptionListProps,
  DividerProps,
  EmptyStateProps,
  ErrorStateProps,
  FlexProps,
  HeadingProps,
  ListProps,
  LoadingButtonProps,
  LoadingSpinnerProps,
  StatisticsItemProps,
  StatisticsProps,
  StatisticsTrendProps,
  TagProps,
  TextProps,
} from '@hubspot/ui-extensions';

const tid = (testId: string | undefined) => (testId === undefined ? {} : { 'data-testid': testId });
const cls = (...names: (string | false | undefined)[]) => names.filter(Boolean).join(' ');

/** HubSpot handlers receive (event, reactions); the card ignores both. */
function click(handler: unknown): (() => void) | undefined {
  return typeof handler === 'function' ? () => void (handler as () => unknown)() : undefined;
}

export function Flex({ testId, children, direction = 'row', gap, justify, align, wrap }: FlexProps) {
  return (
    <div
      {...tid(testId)}
      className={cls('hs-flex', `hs-dir-${direction}`, gap && `hs-gap-${gap}`, justify && `hs-justify-${justify}`, align && `hs-align-${align}`, wrap === true && 'hs-wrap')}
    >
      {children}
    </div>
  );
}

export function Heading({ testId, children }: HeadingProps) {
  return (
    <h2 {...tid(testId)} className="hs-heading">
      {children}
    </h2>
  );
}

export function Text({ testId, children, variant, inline, format }: TextProps) {
  const Tag = inline === true ? 'span' : 'p';
  return (
    <Tag {...tid(testId)} className={cls('hs-text', variant === 'microcopy' && 'hs-microcopy', format?.fontWeight && `hs-weight-${format.fontWeight}`)}>
      {children}
    </Tag>
  );
}

export function Tag({ testId, children, variant = 'default' }: TagProps) {
  return (
    <span {...tid(testId)} className={cls('hs-tag', `hs-tag-${variant}`)}>
      {children}
    </span>
  );
}

export function Statistics({ testId, children }: StatisticsProps) {
  return (
    <div {...tid(testId)} className="hs-statistics">
      {children}
    </div>
  );
}

export function StatisticsItem({ testId, label, number, children }: StatisticsItemProps) {
  return (
    <div {...tid(testId)} className="hs-stat">
      <div className="hs-stat-label" data-role="label">
        {label}
      </div>
      <div className="hs-stat-number" data-role="number">
        {number}
      </div>
      <div className="hs-stat-extra">{children}</div>
    </div>
  );
}

export function StatisticsTrend({ testId, value, direction, color }: StatisticsTrendProps) {
  return (
    <span {...tid(testId)} className={cls('hs-trend', `hs-trend-${color ?? (direction === 'increase' ? 'green' : 'red')}`)}>
      {direction === 'increase' ? '▲' : '▼'} {value}
    </span>
  );
}

export function LoadingButton({ testId, children, onClick, disabled, loading, variant = 'primary', size }: LoadingButtonProps) {
  return (
    <button
      {...tid(testId)}
      type="button"
      className={cls('hs-button', `hs-button-${variant}`, size && `hs-button-${size}`)}
      disabled={disabled === true || loading === true}
      aria-busy={loading === true}
      onClick={click(onClick)}
    >
      {loading === true ? <span className="hs-spinner hs-spinner-inline" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

export function LoadingSpinner({ testId, label, showLabel }: LoadingSpinnerProps) {
  return (
    <div {...tid(testId)} className="hs-loading" role="status" aria-label={label}>
      <span className="hs-spinner" aria-hidden="true" />
      {showLabel === true ? <span>{label}</span> : null}
    </div>
  );
}

export function Alert({ testId, title, children, variant = 'info' }: AlertProps) {
  return (
    <div {...tid(testId)} className={cls('hs-alert', `hs-alert-${variant}`)} role="alert">
      <strong className="hs-alert-title">{title}</strong>
      <div>{children}</div>
    </div>
  );
}

export function EmptyState({ testId, title, children }: EmptyStateProps) {
  return (
    <div {...tid(testId)} className="hs-empty">
      {title === undefined ? null : <h2 className="hs-heading">{title}</h2>}
      {children}
    </div>
  );
}

export function ErrorState({ testId, title, children }: ErrorStateProps) {
  return (
    <div {...tid(testId)} className="hs-empty hs-error-state" role="alert">
      <h2 className="hs-heading">{title ?? 'Something went wrong'}</h2>
      {children}
    </div>
  );
}

export function List({ testId, children, variant = 'unordered' }: ListProps) {
  const items = (Array.isArray(children) ? children : [children]) as ReactNode[];
  const ordered = variant.startsWith('ordered');
  const inner = items.map((child, i) => <li key={i}>{child}</li>);
  return ordered ? (
    <ol {...tid(testId)} className="hs-list">
      {inner}
    </ol>
  ) : (
    <ul {...tid(testId)} className="hs-list">
      {inner}
    </ul>
  );
}

export function DescriptionList({ testId, children, direction = 'column' }: DescriptionListProps) {
  return (
    <dl {...tid(testId)} className={cls('hs-dl', `hs-dir-${direction}`)}>
      {children}
    </dl>
  );
}

export function DescriptionListItem({ testId, label, children }: DescriptionListItemProps) {
  return (
    <div {...tid(testId)} className="hs-dl-item">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

export function Divider({ testId }: DividerProps) {
  return <hr {...tid(testId)} className="hs-divider" />;
}

/** The preview never runs inside HubSpot: registering or proxying is the page's job (main.tsx). */
export const hubspot = {
  extend: (): void => {},
  fetch: (): Promise<never> => Promise.reject(new Error('hubspot.fetch is not available in the preview')),
};
