/**
 * Words for the synthetic account: names, companies, phone numbers and the free text of emails,
 * calls, notes, tickets and survey comments. Text tone follows the customer's latent
 * satisfaction (see `toneOf`), so sentiment features have something real to find.
 */
import { chance, intBelow, pick, type Rng } from './random.ts';

export type Tone = 'positive' | 'neutral' | 'negative';

/** Tone of one message: latent satisfaction plus per-message noise, cut into three bands. */
export function toneOf(rng: Rng, satisfaction: number): Tone {
  const u = satisfaction + 0.15 * rng.normal();
  return u > 0.72 ? 'positive' : u < 0.45 ? 'negative' : 'neutral';
}

export const FIRST_NAMES = [
  'Emma', 'Liam', 'Olivia', 'Noah', 'Ava', 'Elijah', 'Sophia', 'Lucas', 'Mia', 'Mateo', 'Amelia', 'Levi',
  'Harper', 'Ethan', 'Aisha', 'Kenji', 'Chloe', 'Omar', 'Priya', 'Jonas', 'Lena', 'Diego', 'Fatima', 'Hugo',
  'Ingrid', 'Kwame', 'Mei', 'Nikolai', 'Zoe', 'Rafael', 'Sara', 'Tomás', 'Yuki', 'Alice', 'Ben', 'Clara',
] as const;
export const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Garcia', 'Miller', 'Davis', 'Martinez', 'Lopez', 'Wilson',
  'Anderson', 'Thomas', 'Moore', 'Jackson', 'Martin', 'Lee', 'Nguyen', 'Kim', 'Schmidt', 'Müller', 'Rossi',
  'Dubois', 'Okafor', 'Tanaka', 'Patel', 'Cohen', 'Silva', 'Novak', 'Larsen', "O'Brien", 'Khan', 'Ivanova',
] as const;
const COMPANY_HEADS = [
  'Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Hooli', 'Vandelay', 'Wonka', 'Tyrell', 'Cyberdyne',
  'Soylent', 'Aperture', 'Massive', 'Nimbus', 'Blue Sun', 'Oscorp', 'Pied Piper', 'Gringotts', 'Monarch',
  'Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Litware', 'Adatum', 'Proseware', 'Lamna', 'Fourth Coffee', 'Wingtip',
] as const;
const COMPANY_TAILS = ['Labs', 'Systems', 'Industries', 'Group', 'Partners', 'Logistics', 'Health', 'Foods', 'Media', 'Analytics'] as const;
export const INDUSTRIES = [
  'COMPUTER_SOFTWARE', 'INFORMATION_TECHNOLOGY_AND_SERVICES', 'HOSPITAL_HEALTH_CARE', 'RETAIL', 'FINANCIAL_SERVICES',
  'LOGISTICS_AND_SUPPLY_CHAIN', 'MARKETING_AND_ADVERTISING', 'EDUCATION_MANAGEMENT', 'MANUFACTURING', 'FOOD_BEVERAGES',
] as const;
export const CITIES = [
  ['Boston', 'United States'], ['Austin', 'United States'], ['Chicago', 'United States'], ['Toronto', 'Canada'],
  ['London', 'United Kingdom'], ['Dublin', 'Ireland'], ['Berlin', 'Germany'], ['Paris', 'France'],
  ['Madrid', 'Spain'], ['Sydney', 'Australia'], ['Tokyo', 'Japan'], ['São Paulo', 'Brazil'],
] as const;
export const JOB_TITLES = [
  'CEO', 'CTO', 'Head of Operations', 'Office Manager', 'Procurement Lead', 'IT Director', 'Marketing Manager',
  'Finance Manager', 'Customer Success Lead', 'Engineer', 'Analyst', 'Founder',
] as const;

export function companyName(rng: Rng, index: number): string {
  // The index keeps names unique enough to tell companies apart in a demo; duplicates are fine.
  return `${pick(rng, COMPANY_HEADS)} ${pick(rng, COMPANY_TAILS)} ${index}`;
}

export function domainOf(name: string): string {
  return `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}.example.com`;
}

/** ASCII local part for an email address from a name ("Tomás O'Brien" → "tomas.obrien"). */
export function emailLocalPart(first: string, last: string): string {
  const clean = (s: string) => s.normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase();
  return `${clean(first)}.${clean(last)}`;
}

/** A fictional North American number (555-01xx range) as its ten digits. */
export function phoneDigits(rng: Rng): string {
  return `555${String(100 + intBelow(rng, 100)).padStart(3, '0')}${String(intBelow(rng, 10_000)).padStart(4, '0')}`;
}

/** The formats people actually type into CRMs (hubspot phone properties are free text). */
export function formatPhone(rng: Rng, digits: string, oddRate: number): string {
  if (!chance(rng, oddRate)) return `+1${digits}`;
  const area = digits.slice(0, 3);
  const mid = digits.slice(3, 6);
  const end = digits.slice(6);
  switch (intBelow(rng, 6)) {
    case 0: return `(${area}) ${mid}-${end}`;
    case 1: return `+1 ${area}.${mid}.${end}`;
    case 2: return `${area}-${mid}-${end}`;
    case 3: return `${area} ${mid} ${end} ext. ${10 + intBelow(rng, 90)}`;
    case 4: return digits;
    default: return 'n/a';
  }
}

const INBOUND_EMAIL: Record<Tone, readonly string[]> = {
  positive: [
    'Thanks so much for the quick help, everything works great now.',
    'We love the new reporting dashboard, the whole team is really happy with it.',
    'Great call yesterday, thank you. We would like to add five more seats.',
    'Just wanted to say your support team was excellent this week.',
  ],
  neutral: [
    'Could you send me the invoice for last month?',
    'Quick question about user permissions for our new hires.',
    'Can we move our check-in to next Tuesday?',
    'Please update our billing address, details below.',
  ],
  negative: [
    'I am frustrated: the export has been broken for a week and nobody has replied.',
    'This is the third time I report this problem. Very disappointed with the service.',
    'We are considering cancelling our subscription if this is not fixed soon.',
    'The last update broke our integration again. This is unacceptable.',
  ],
};
const OUTBOUND_EMAIL = [
  'Checking in: how is everything going with your account?',
  'Following up on our call, here is the proposal we discussed.',
  'Sharing a few tips to get more out of the new release.',
  'Your renewal is coming up; happy to walk through the options.',
] as const;
const CALL_BODY: Record<Tone, readonly string[]> = {
  positive: ['Customer happy with the product, asked about the premium plan.', 'Friendly call, they recommended us to a partner.'],
  neutral: ['Walked through the admin settings.', 'Discussed the renewal timeline and next steps.'],
  negative: ['Customer upset about repeated outages, asked for a discount.', 'Angry call about a billing error; wants to cancel.'],
};
const NOTE_BODY: Record<Tone, readonly string[]> = {
  positive: ['Very happy with onboarding; open to an upsell next quarter.', 'Champion on their side, great relationship.'],
  neutral: ['Discussed roadmap items; no action needed.', 'Contact changed roles; update the account plan.'],
  negative: ['Unhappy about response times; escalated to the support lead.', 'Churn risk: evaluating a competitor, frustrated with bugs.'],
};
const TICKET_SUBJECT: Record<string, readonly string[]> = {
  PRODUCT_ISSUE: ['Export fails with an error', 'Dashboard does not load', 'Sync stopped working', 'Login loop after update'],
  BILLING_ISSUE: ['Charged twice this month', 'Invoice shows the wrong plan', 'Refund request'],
  FEATURE_REQUEST: ['Request: bulk edit', 'Request: dark mode', 'Request: API access for reports'],
  GENERAL_INQUIRY: ['How do I add a user?', 'Question about data retention', 'Where can I find the API key?'],
};
const TICKET_CONTENT: Record<Tone, readonly string[]> = {
  positive: ['Not urgent, thanks for looking into it!', 'Small thing, otherwise everything is great.'],
  neutral: ['Details and screenshots attached.', 'Please advise on the next steps.'],
  negative: ['This is blocking our whole team. Please fix it urgently.', 'Again?! This keeps happening and we are losing money.'],
};
const FEEDBACK_COMMENT: Record<Tone, readonly string[]> = {
  positive: ['Great product and excellent support.', 'Easy to use, saves us hours every week.', 'Love it, the team is very responsive.'],
  neutral: ['It does the job.', 'Okay overall, some features are missing.', 'Fine, but the pricing could be clearer.'],
  negative: ['Too many bugs and slow support.', 'Very disappointed, we are looking at alternatives.', 'Support took days to answer, terrible experience.'],
};

export const inboundEmailText = (rng: Rng, tone: Tone): string => pick(rng, INBOUND_EMAIL[tone]);
export const outboundEmailText = (rng: Rng): string => pick(rng, OUTBOUND_EMAIL);
export const callBody = (rng: Rng, tone: Tone): string => pick(rng, CALL_BODY[tone]);
export const noteBody = (rng: Rng, tone: Tone): string => pick(rng, NOTE_BODY[tone]);
export const ticketContent = (rng: Rng, tone: Tone): string => pick(rng, TICKET_CONTENT[tone]);
export const feedbackComment = (rng: Rng, tone: Tone): string => pick(rng, FEEDBACK_COMMENT[tone]);
export const ticketSubject = (rng: Rng, category: string): string => pick(rng, TICKET_SUBJECT[category] ?? TICKET_SUBJECT['GENERAL_INQUIRY'] ?? ['Question']);

/** Subject line of an inbound email: the first words of its text. */
export function subjectOf(text: string): string {
  const words = text.split(' ');
  return words.length > 6 ? `${words.slice(0, 6).join(' ')}…` : text;
}
