/*
 * The Rapport card on the Contact record page, in every state the HubSpot card's tests cover that
 * this card has: loading, a scored contact (values, bands at their edges, health, reasons, when and
 * which model), partly scored, not yet scored, and the errors getRecord answers (no field access,
 * a record the user cannot see). The card has no "Rescore now" and no portal connection: it reads
 * the fields Rapport wrote, through Lightning Data Service.
 * How: https://developer.salesforce.com/docs/platform/lwc/guide/unit-testing-using-wire-utility.html
 */
import { createElement } from 'lwc';
import RapportScores from 'c/rapportScores';
import { getRecord } from 'lightning/uiRecordApi';

const record = (values) => ({
    apiName: 'Contact',
    id: '003000000000001AAA',
    fields: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v, displayValue: null }]))
});

const SCORED = {
    Rapport_Satisfaction__c: 82.4,
    Rapport_Loyalty__c: 61,
    Rapport_Churn_Risk__c: 12,
    Rapport_Service_Need__c: 35,
    Rapport_Health__c: 'green',
    Rapport_Reasons__c: 'Replied to 9 of 10 emails. Renewed last month. Two open cases',
    Rapport_Scored_At__c: '2026-11-30T10:15:00.000Z',
    Rapport_Model_Version__c: 'gbm-2026-11'
};

const flush = () => Promise.resolve();

function mount() {
    const el = createElement('c-rapport-scores', { is: RapportScores });
    el.recordId = '003000000000001AAA';
    document.body.appendChild(el);
    return el;
}

const scoreOf = (el, label) => {
    const tile = [...el.shadowRoot.querySelectorAll('.score')].find((t) => t.querySelector('.score__label').textContent === label);
    return { value: tile.querySelector('.score__value').textContent, band: [...tile.classList].find((c) => c.startsWith('score_')) };
};

afterEach(() => {
    while (document.body.firstChild) document.body.removeChild(document.body.firstChild);
    jest.clearAllMocks();
});

describe('c-rapport-scores', () => {
    it('shows a spinner until the record answers, then every value of a scored contact', async () => {
        const el = mount();
        expect(el.shadowRoot.querySelector('lightning-spinner')).not.toBeNull();
        expect(el.shadowRoot.querySelector('.scores')).toBeNull();

        getRecord.emit(record(SCORED));
        await flush();
        expect(el.shadowRoot.querySelector('lightning-spinner')).toBeNull();
        expect(el.shadowRoot.querySelector('.health').textContent).toBe('Health: green');
        expect(el.shadowRoot.querySelector('.health').classList).toContain('health_green');
        expect(scoreOf(el, 'Satisfaction')).toEqual({ value: '82', band: 'score_green' });
        expect(scoreOf(el, 'Loyalty')).toEqual({ value: '61', band: 'score_green' });
        expect(scoreOf(el, 'Churn risk')).toEqual({ value: '12', band: 'score_green' });
        expect(scoreOf(el, 'Service need')).toEqual({ value: '35', band: 'score_yellow' });
        expect([...el.shadowRoot.querySelectorAll('.reasons li')].map((li) => li.textContent)).toEqual([
            'Replied to 9 of 10 emails',
            'Renewed last month',
            'Two open cases'
        ]);
        expect(el.shadowRoot.querySelector('lightning-formatted-date-time').value).toBe('2026-11-30T10:15:00.000Z');
        expect(el.shadowRoot.querySelector('.meta').textContent).toContain('model gbm-2026-11');
    });

    it('asks Lightning Data Service for the score fields of this contact', async () => {
        mount();
        await flush();
        const config = getRecord.getLastConfig();
        expect(config.recordId).toBe('003000000000001AAA');
        expect(config.fields.map((f) => f.fieldApiName).sort()).toEqual(Object.keys(SCORED).sort());
    });

    it.each([
        // Rapport's default bands (src/scoring/bands.ts), decided on the shown whole number
        ['Satisfaction', 'Rapport_Satisfaction__c', [[69.6, '70', 'green'], [69.4, '69', 'yellow'], [40, '40', 'yellow'], [39, '39', 'red']]],
        ['Loyalty', 'Rapport_Loyalty__c', [[60, '60', 'green'], [59, '59', 'yellow'], [25, '25', 'yellow'], [24, '24', 'red']]],
        ['Churn risk', 'Rapport_Churn_Risk__c', [[19, '19', 'green'], [20, '20', 'yellow'], [49.4, '49', 'yellow'], [49.6, '50', 'red']]],
        ['Service need', 'Rapport_Service_Need__c', [[29, '29', 'green'], [30, '30', 'yellow'], [59, '59', 'yellow'], [60, '60', 'red']]]
    ])('%s at its band edges', async (label, field, cases) => {
        const el = mount();
        for (const [value, shown, band] of cases) {
            getRecord.emit(record({ ...SCORED, [field]: value }));
            await flush();
            expect(scoreOf(el, label)).toEqual({ value: shown, band: `score_${band}` });
        }
    });

    it('red and yellow health show their own class', async () => {
        const el = mount();
        getRecord.emit(record({ ...SCORED, Rapport_Health__c: 'red' }));
        await flush();
        expect(el.shadowRoot.querySelector('.health').classList).toContain('health_red');
        getRecord.emit(record({ ...SCORED, Rapport_Health__c: 'yellow' }));
        await flush();
        expect(el.shadowRoot.querySelector('.health').textContent).toBe('Health: yellow');
    });

    it('a partly scored contact shows a dash and no band for the missing score, and no reasons list items', async () => {
        const el = mount();
        getRecord.emit(record({ ...SCORED, Rapport_Service_Need__c: null, Rapport_Reasons__c: null, Rapport_Health__c: null }));
        await flush();
        expect(scoreOf(el, 'Service need')).toEqual({ value: '–', band: 'score_none' });
        expect(el.shadowRoot.querySelectorAll('.reasons li')).toHaveLength(0);
        expect(el.shadowRoot.querySelector('.health').textContent).toBe('Health: unknown');
    });

    it('a contact Rapport has not scored yet: the empty state, no scores', async () => {
        const el = mount();
        getRecord.emit(record({ ...Object.fromEntries(Object.keys(SCORED).map((k) => [k, null])) }));
        await flush();
        expect(el.shadowRoot.querySelector('.not-scored').textContent).toContain('has not scored this contact yet');
        expect(el.shadowRoot.querySelector('.scores')).toBeNull();
        expect(el.shadowRoot.querySelector('lightning-spinner')).toBeNull();
    });

    it('no field access: the error getRecord answers is shown, and a generic hint when it has no message', async () => {
        const el = mount();
        getRecord.error({ message: 'No such column Rapport_Satisfaction__c on entity Contact' });
        await flush();
        expect(el.shadowRoot.querySelector('.slds-text-color_error').textContent).toBe('No such column Rapport_Satisfaction__c on entity Contact');
        expect(el.shadowRoot.querySelector('.scores')).toBeNull();

        const bare = mount();
        getRecord.error(undefined, 500, 'Server Error');
        await flush();
        expect(bare.shadowRoot.querySelector('.slds-text-color_error').textContent).toContain('are they deployed, and do you have field access?');
    });

    it('a record the user cannot see (404): the error state, never stale scores', async () => {
        const el = mount();
        getRecord.emit(record(SCORED));
        await flush();
        getRecord.error({ message: 'The requested resource does not exist' }, 404, 'Not Found');
        await flush();
        expect(el.shadowRoot.querySelector('.scores')).toBeNull();
        expect(el.shadowRoot.querySelector('.slds-text-color_error').textContent).toBe('The requested resource does not exist');
    });

    it('CRM text is rendered as text, never as markup', async () => {
        const el = mount();
        getRecord.emit(record({ ...SCORED, Rapport_Reasons__c: '<img src=x onerror=alert(1)>Replied fast', Rapport_Model_Version__c: '<b>v</b>' }));
        await flush();
        expect(el.shadowRoot.querySelector('img')).toBeNull();
        expect(el.shadowRoot.querySelector('.reasons li').textContent).toBe('<img src=x onerror=alert(1)>Replied fast');
        expect(el.shadowRoot.querySelector('.meta b')).toBeNull();
    });
});
