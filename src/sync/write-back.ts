import { asCrmError, CrmError, isBudgetPause, isTransient, MISSING_PROPERTY, retryDecision } from '../errors.ts';
import type { CrmConnector } from '../connectors/types.ts';
import type { Logger } from '../log.ts';
import type { OutboxItem, Store } from '../store/index.ts';
import { withGrace } from '../work/grace.ts';

export type WriteBackResult = {
  written: number;
  /** failed this round, will be retried later */
  retrying: number;
  /** failed for good (non-retryable, or out of attempts): visible in `rapport status` */
  parked: number;
  /** the whole batch could not be sent (auth, rate limit exhausted, CRM down); draining stopped */
  error?: CrmError;
  /** writes were refused for a missing property, so the properties were provisioned again */
  reprovisioned?: boolean;
  /** items the CRM already held (sent by a process that died before settling them): settled, not re-sent */
  alreadyThere?: number;
};

export type WriteBackOptions = {
  signal: AbortSignal;
  /** default: the connector's `writeBatchSize` (its CRM's batch limit), else 100 */
  batchSize?: number;
  maxAttempts?: number;
  /** stop after this many batches (keeps one portal from starving others) */
  maxBatches?: number;
  /**
   * On stop, the batch already sent gets this long to be answered and settled (default 10 s), so a
   * stopping process does not leave a batch the CRM applied looking unsent; no batch is sent after
   * the stop. 0 cuts the request at once (its batch stays pending, the sending mark says to ask).
   */
  graceMs?: number;
};

/**
 * Drains the portal's outbox through `connector.writeScores`. The outbox holds only values that
 * differ from what was last written, so this never re-sends an unchanged score. Per-record
 * failures are retried with backoff and parked after `maxAttempts`; a batch that fails as a whole
 * leaves every item in place (nothing is lost across restarts: the outbox is in SQLite).
 *
 * A write refused because the CRM lacks one of our properties (deleted by an admin, or never
 * provisioned) is not the record's fault: the first such refusal in a drain provisions the
 * properties again and retries those records without counting an attempt. Parking is logged at
 * warn with its reason (error codes only, never the values).
 */
export async function drainOutbox(
  deps: { store: Pick<Store, 'outbox'>; connector: CrmConnector; portal: string; logger: Logger },
  opts: WriteBackOptions,
): Promise<WriteBackResult> {
  const { store, connector, portal, logger } = deps;
  // each connector states its CRM's batch size (documented in its connector)
  const batchSize = opts.batchSize ?? connector.writeBatchSize ?? 100;
  const maxAttempts = opts.maxAttempts ?? 5;
  const out: WriteBackResult = { written: 0, retrying: 0, parked: 0 };
  const parkedReasons = new Map<string, number>();
  let provisionTried = false;
  let provisionError: string | undefined;
  // A batch sent and not settled (a process killed in between, an answer lost) leaves the
  // portal's sending mark behind (store.outbox.setSending): only then can the head of the outbox
  // already be in the CRM, so only then is the CRM asked first (a read, against the CRM's budget).
  const asks = connector.scoresAlreadyWritten !== undefined;
  let verifying = asks && (await store.outbox.sending(portal));
  /** the mark as this drain left it, and whether the drain ended on an empty outbox */
  let marked = verifying;
  let emptied = false;
  const inFlight = withGrace(opts.signal, opts.graceMs);
  try {
    for (let batch = 0; batch < (opts.maxBatches ?? Infinity); batch++) {
      if (opts.signal.aborted) break;
      const due = await store.outbox.due(portal, batchSize);
      if (due.length === 0) {
        emptied = true;
        break;
      }
      // That batch is at the head of the outbox (due order): ask the CRM what it holds and settle
      // those as written without sending them again; keep asking while batches turn out to be there
      // already. A failed read just sends.
      let items = due;
      if (verifying) {
        const there = await alreadyWritten(connector, due, inFlight.signal, logger, portal);
        verifying = there.length > 0;
        if (there.length > 0) {
          await store.outbox.settle(portal, { written: there, failed: [] }, { maxAttempts });
          out.alreadyThere = (out.alreadyThere ?? 0) + there.length;
          items = due.filter((i) => !there.includes(i));
          if (items.length === 0) continue;
        }
      }
      if (asks) await store.outbox.setSending(portal, true);
      marked = asks;
      let results;
      try {
        results = await connector.writeScores(
          items.map((i) => ({ contactId: i.contactId, properties: i.properties })),
          inFlight.signal,
        );
      } catch (e) {
        // cut past the grace: the batch stays pending under the sending mark
        if (inFlight.signal.aborted) break;
        const error = asCrmError(e, connector.crm);
        // Auth/scope problems are the portal's, not the records': leave the items pending untouched.
        // So is a daily-budget pause (a CRM's rolling daily allowance): it clears when the CRM's window
        // rolls, and counting it as an attempt would park every pending write after `maxAttempts` drains.
        // And so is a bug of ours (`internal`): logged with its stack, the writes wait for the fix.
        if (retryDecision(error, 0).action === 'hold') {
          if (error.kind === 'internal') logger.error({ portal, kind: error.kind, stack: (error.cause as Error | undefined)?.stack }, 'write-back failed on an internal error; the writes stay pending');
          out.error = error;
          break;
        }
        const failed = items.map((item) => ({ item, error: `${error.kind}: ${error.message}`, retryable: isTransient(error) }));
        await store.outbox.settle(portal, { written: [], failed }, { maxAttempts });
        out.error = error;
        logger.warn({ portal, kind: error.kind, items: items.length }, 'write-back batch failed');
        break;
      }
      const byId = new Map(results.map((r) => [r.contactId, r]));
      const missingProperty = results.some((r) => !r.ok && r.error.details.code === MISSING_PROPERTY);
      let retryMissing = false;
      if (missingProperty && !provisionTried) {
        provisionTried = true;
        logger.warn({ portal, code: MISSING_PROPERTY }, 'write-back refused: the CRM lacks a Rapport property; provisioning the properties and retrying');
        try {
          await connector.provision(inFlight.signal);
          out.reprovisioned = true;
          retryMissing = true;
        } catch (e) {
          if (inFlight.signal.aborted) break;
          const error = e instanceof CrmError ? e : undefined;
          provisionError = `provisioning failed (${error === undefined ? 'error' : reasonOf(error)})`;
          logger.error({ portal, kind: error?.kind ?? 'error', code: error?.details.code }, 'provisioning the Rapport properties failed');
        }
      }
      const written: OutboxItem[] = [];
      const failed: { item: OutboxItem; error: string; retryable: boolean }[] = [];
      for (const item of items) {
        const r = byId.get(item.contactId);
        if (r?.ok === true) {
          written.push(item);
          out.written++;
          continue;
        }
        const error = r === undefined ? new CrmError('bad_response', 'no result returned for this contact', { crm: connector.crm }) : r.error;
        // The properties exist now: the item stays pending and due, and goes out in the next batch.
        if (retryMissing && error.details.code === MISSING_PROPERTY) continue;
        // not sent: the connector paused part-way through the batch
        if (isBudgetPause(error)) continue;
        const retryable = r === undefined || isTransient(error);
        const willPark = !retryable || item.attempts + 1 >= maxAttempts;
        const reason = error.details.code === MISSING_PROPERTY && provisionError !== undefined ? `${reasonOf(error)}; ${provisionError}` : reasonOf(error);
        failed.push({ item, error: `${reason}: ${error.message}`, retryable });
        if (willPark) {
          out.parked++;
          parkedReasons.set(reason, (parkedReasons.get(reason) ?? 0) + 1);
        } else out.retrying++;
      }
      await store.outbox.settle(portal, { written, failed }, { maxAttempts });
      // answered and settled; a batch that failed whole keeps the mark (it may have been applied)
      if (asks) await store.outbox.setSending(portal, false);
      marked = false;
    }
  } finally {
    inFlight.dispose();
  }
  // The CRM held every batch the mark stood for and nothing waits to be sent (not even a failed
  // batch backing off, which may have been applied): nothing is unsettled, so the next drain need not ask.
  if (marked && emptied && (await store.outbox.stats(portal)).pending === 0) await store.outbox.setSending(portal, false);
  if (out.written + out.parked + out.retrying + (out.alreadyThere ?? 0) > 0) {
    logger.info({ portal, written: out.written, retrying: out.retrying, parked: out.parked, ...(out.alreadyThere === undefined ? {} : { alreadyThere: out.alreadyThere }) }, 'write-back');
  }
  for (const [reason, count] of parkedReasons) {
    logger.warn({ portal, parked: count, reason }, 'write-back parked writes (see `rapport status`; re-queue with `rapport outbox retry`)');
  }
  return out;
}

/** The items the CRM already holds; none when it cannot tell (the batch is then sent, which is safe). */
async function alreadyWritten(connector: CrmConnector, items: readonly OutboxItem[], signal: AbortSignal, logger: Logger, portal: string): Promise<OutboxItem[]> {
  try {
    const ids = await connector.scoresAlreadyWritten!(items.map((i) => ({ contactId: i.contactId, properties: i.properties })), signal);
    return items.filter((i) => ids.has(i.contactId));
  } catch (e) {
    if (!signal.aborted) logger.warn({ portal, kind: asCrmError(e, connector.crm).kind }, 'could not read the CRM\'s current scores; sending the batch');
    return [];
  }
}

/** A failure's reason in a few words: its kind and the CRM's error code, never the values. */
function reasonOf(error: CrmError): string {
  return error.details.code === undefined ? error.kind : `${error.kind} ${error.details.code}`;
}

