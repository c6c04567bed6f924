import { z } from 'zod';

/**
 * zod field types for settings read from the environment or the config file (strings), shared
 * by `src/config.ts` and the CRM providers' config slices.
 */

export const flag = (name: string) =>
  z
    .enum(['true', 'false', '1', '0'], { message: `${name} must be true or false` })
    .default('false')
    .transform((s) => s === 'true' || s === '1');

export const optionalText = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

export const url = (what: string) => z.url({ protocol: /^https?$/, message: `${what} must be an absolute http:// or https:// URL` });

/** a URL without its trailing slashes, so paths can be appended */
export const trimUrl = (u: string): string => u.replace(/\/+$/, '');
