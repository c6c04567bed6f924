import { describe, expect, it } from 'vitest';
import { cosineSimilarity, fitTfIdf, tfIdfVector, tokenize, type SparseVector } from '../../../src/scoring/models/tfidf.ts';

// scikit-learn's TfidfVectorizer example corpus; expected values from docs/research/scoring.md §4.7.
const CORPUS = [
  'This is the first document.',
  'This document is the second document.',
  'And this is the third one.',
  'Is this the first document?',
];

describe('TF-IDF (sklearn TfidfVectorizer defaults)', () => {
  const model = fitTfIdf(CORPUS);

  it('has sklearn\'s vocabulary and smoothed idf', () => {
    expect(model.terms).toEqual(['and', 'document', 'first', 'is', 'one', 'second', 'the', 'third', 'this']);
    const idf = [1.91629073, 1.22314355, 1.51082562, 1, 1.91629073, 1.91629073, 1, 1.91629073, 1];
    model.idf.forEach((v, i) => expect(v).toBeCloseTo(idf[i] as number, 8));
  });

  it('row 0 and the cosine similarities match', () => {
    const row0 = tfIdfVector(model, CORPUS[0] as string);
    const dense = new Array<number>(model.terms.length).fill(0);
    row0.indices.forEach((c, k) => (dense[c] = row0.values[k] as number));
    const expected = [0, 0.46979139, 0.58028582, 0.38408524, 0, 0, 0.38408524, 0, 0.38408524];
    dense.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 8));
    const rows = CORPUS.map((d) => tfIdfVector(model, d));
    expect(cosineSimilarity(rows[0] as SparseVector, rows[1] as SparseVector)).toBeCloseTo(0.64692568, 8);
    expect(cosineSimilarity(rows[0] as SparseVector, rows[3] as SparseVector)).toBeCloseTo(1, 12);
    expect(cosineSimilarity(rows[2] as SparseVector, rows[2] as SparseVector)).toBeCloseTo(1, 12);
  });

  it('tokenises like \\b\\w\\w+\\b: lowercase, drops 1-character tokens, keeps digits, underscores and accents', () => {
    expect(tokenize("I can't log in — error E42, café_2 ok?")).toEqual(['can', 'log', 'in', 'error', 'e42', 'café_2', 'ok']);
    expect(tokenize('a b c')).toEqual([]);
  });

  it('empty or out-of-vocabulary text has similarity 0; options behave', () => {
    const empty = tfIdfVector(model, '');
    const unseen = tfIdfVector(model, 'zebra xylophone');
    expect(empty).toEqual({ indices: [], values: [] });
    expect(cosineSimilarity(empty, tfIdfVector(model, CORPUS[0] as string))).toBe(0);
    expect(cosineSimilarity(unseen, unseen)).toBe(0);
    expect(fitTfIdf(CORPUS, { minDf: 2 }).terms).toEqual(['document', 'first', 'is', 'the', 'this']);
    expect(fitTfIdf(CORPUS, { stopWords: new Set(['the', 'is', 'this', 'and']) }).terms).toEqual([
      'document',
      'first',
      'one',
      'second',
      'third',
    ]);
    // sublinear tf: "document" twice in row 1 weighs 1 + ln 2 instead of 2
    const sub = fitTfIdf(CORPUS, { sublinearTf: true });
    const row1 = tfIdfVector(sub, CORPUS[1] as string);
    const raw = tfIdfVector(model, CORPUS[1] as string);
    const col = sub.index.get('document') as number;
    const at = (v: SparseVector): number => v.values[v.indices.indexOf(col)] as number;
    expect(at(row1)).toBeLessThan(at(raw));
    expect(() => fitTfIdf(CORPUS, { minDf: 0 })).toThrow(/minDf/);
  });
});
