/**
 * Synthetic HubSpot account with known latent truth (issue 2, "The synthetic account").
 *
 *   for (const batch of generateAccount({ seed: 7, contacts: 10_000, now })) sandbox.data.load(hubId, batch);
 *
 * Deterministic for (seed, contacts, now, messiness): the same arguments give byte-identical
 * batches. Batches hold whole companies of ~`batchSize` contacts, and every association in a batch
 * points at objects of the same batch, so a 1,000,000-contact account streams in bounded memory.
 * Nothing after `now` is in the data (the truth describes that future), except an open deal's
 * expected `closedate` and the deliberate garbage: a few closed-won deals with a typo'd future `closedate`.
 */
import type { GeneratedBatch } from '../model.ts';
import { drawCustomer } from './customer.ts';
import { DAY_MS, scaleMessiness } from './params.ts';
import { emitCompany, emitCustomer, emitDuplicate, initialIds, type Sink } from './records.ts';
import { createRng, deriveSeed, poisson, uniform } from './random.ts';

export { writeTruth, createTruthWriter } from './truth.ts';
export { createLiveActivity } from './live.ts';
export * as generatorParams from './params.ts';

export type GenerateAccountOptions = {
  seed: number;
  /** contact records to create, duplicates included (truth is written for the non-duplicates) */
  contacts: number;
  /** epoch ms: the account's present; nothing happens after it */
  now: number;
  /** scales every data-quality defect of params.ts MESSINESS: 0 = clean, 1 = default */
  messiness?: number;
  /** contacts per batch (default 500); batches never split a company */
  batchSize?: number;
};

export function* generateAccount(options: GenerateAccountOptions): Generator<GeneratedBatch, void, undefined> {
  const { seed, contacts, now } = options;
  if (!Number.isInteger(contacts) || contacts < 0) throw new RangeError(`contacts must be a whole number ≥ 0, got ${contacts}`);
  if (!Number.isFinite(now)) throw new RangeError(`now must be epoch milliseconds, got ${now}`);
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const mess = scaleMessiness(options.messiness ?? 1);
  // A share d of contact records are duplicates: one per customer with probability d / (1 − d).
  const duplicateChance = mess.duplicateContacts >= 1 ? 1 : mess.duplicateContacts / (1 - mess.duplicateContacts);
  const ids = initialIds();
  let made = 0;
  let companyIndex = 0;
  for (let batchIndex = 0; made < contacts; batchIndex++) {
    // Each batch has its own stream, so batch k is the same whatever the account's size.
    const rng = createRng(deriveSeed(seed, batchIndex));
    const sink: Sink = { rng, now, mess, ids, batch: { objects: [], associations: [], truth: [] } };
    let inBatch = 0;
    while (inBatch < batchSize && made < contacts) {
      const size = Math.min(1 + poisson(rng, 1.5), contacts - made);
      const customers = [];
      for (let i = 0; i < size; i++) customers.push(drawCustomer(rng, now));
      const firstCreated = Math.min(...customers.map((c) => c.createdAt));
      const companyCreated = Math.round(firstCreated - uniform(rng, 0, 30) * DAY_MS);
      const company = emitCompany(sink, ++companyIndex, companyCreated, Math.min(now, Math.round(firstCreated + uniform(rng, 0, 30) * DAY_MS)));
      let slots = size;
      for (const customer of customers) {
        if (slots === 0) break;
        const { contactId, person } = emitCustomer(sink, customer, company);
        sink.batch.truth.push({ contactId, ...customer.truth });
        slots--;
        made++;
        inBatch++;
        if (made < contacts && rng.next() < duplicateChance) {
          const original = sink.batch.objects[sink.batch.objects.length - 1];
          if (original?.type === 'contacts' && original.id === contactId) {
            emitDuplicate(sink, original, person);
            made++;
            inBatch++;
            // The duplicate takes the slot of the company's next customer, keeping the total exact.
            if (slots > 0) slots--;
          }
        }
      }
    }
    yield sink.batch;
  }
}
