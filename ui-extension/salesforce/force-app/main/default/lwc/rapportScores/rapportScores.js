import { LightningElement, api, wire } from 'lwc';
import { getRecord, getFieldValue } from 'lightning/uiRecordApi';
import SATISFACTION from '@salesforce/schema/Contact.Rapport_Satisfaction__c';
import LOYALTY from '@salesforce/schema/Contact.Rapport_Loyalty__c';
import CHURN_RISK from '@salesforce/schema/Contact.Rapport_Churn_Risk__c';
import SERVICE_NEED from '@salesforce/schema/Contact.Rapport_Service_Need__c';
import HEALTH from '@salesforce/schema/Contact.Rapport_Health__c';
import REASONS from '@salesforce/schema/Contact.Rapport_Reasons__c';
import SCORED_AT from '@salesforce/schema/Contact.Rapport_Scored_At__c';
import MODEL_VERSION from '@salesforce/schema/Contact.Rapport_Model_Version__c';

const FIELDS = [SATISFACTION, LOYALTY, CHURN_RISK, SERVICE_NEED, HEALTH, REASONS, SCORED_AT, MODEL_VERSION];

// Rapport's default bands (src/scoring/bands.ts DEFAULT_BANDS, docs/scores.md). For churn risk
// and service need a HIGH value is the bad one.
const SCORES = [
    { key: 'satisfaction', label: 'Satisfaction', field: SATISFACTION, highIsGood: true, green: 70, red: 40 },
    { key: 'loyalty', label: 'Loyalty', field: LOYALTY, highIsGood: true, green: 60, red: 25 },
    { key: 'churn', label: 'Churn risk', field: CHURN_RISK, highIsGood: false, green: 20, red: 50 },
    { key: 'service', label: 'Service need', field: SERVICE_NEED, highIsGood: false, green: 30, red: 60 }
];

// decided on the whole number the rep sees, as Rapport does (src/scoring/bands.ts shownValue): 69.6 shows 70 and is green
function band(s, value) {
    if (value === null || value === undefined) return 'none';
    const v = Math.round(value);
    if (s.highIsGood) return v >= s.green ? 'green' : v < s.red ? 'red' : 'yellow';
    return v >= s.red ? 'red' : v < s.green ? 'green' : 'yellow';
}

/**
 * Reads the score fields Rapport writes onto the contact (no callout: the card works once the
 * fields are deployed and the viewing user has field access through the Rapport Viewer
 * permission set). Bands use Rapport's default thresholds; an account with custom thresholds
 * still gets the right overall Health, which Rapport computes and writes.
 */
export default class RapportScores extends LightningElement {
    @api recordId;

    @wire(getRecord, { recordId: '$recordId', fields: FIELDS })
    contact;

    // `== null`: a field absent from the record (undefined) is as unscored as an empty one (null)
    get hasScores() {
        return Boolean(this.contact && this.contact.data && getFieldValue(this.contact.data, SCORED_AT) != null);
    }

    get noScoresYet() {
        return Boolean(this.contact && this.contact.data && getFieldValue(this.contact.data, SCORED_AT) == null);
    }

    // the wire has answered neither data nor error yet
    get loading() {
        return !(this.contact && (this.contact.data || this.contact.error));
    }

    get errorMessage() {
        const e = this.contact && this.contact.error;
        if (!e) return null;
        return (e.body && e.body.message) || 'The Rapport fields could not be read (are they deployed, and do you have field access?)';
    }

    get scores() {
        return SCORES.map((s) => {
            const value = getFieldValue(this.contact.data, s.field);
            return { key: s.key, label: s.label, value: value == null ? '–' : Math.round(value), className: `score score_${band(s, value)}` };
        });
    }

    get health() {
        return getFieldValue(this.contact.data, HEALTH) || 'unknown';
    }

    get healthClass() {
        return `health health_${this.health}`;
    }

    get reasons() {
        const text = getFieldValue(this.contact.data, REASONS) || '';
        return text
            .split('. ')
            .map((t) => t.trim())
            .filter((t) => t.length > 0)
            .map((t, i) => ({ key: String(i), text: t }));
    }

    get scoredAt() {
        return getFieldValue(this.contact.data, SCORED_AT);
    }

    get modelVersion() {
        return getFieldValue(this.contact.data, MODEL_VERSION);
    }
}
