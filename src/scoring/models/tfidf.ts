/**
 * TF-IDF vectors and cosine similarity of short texts (messages, ticket subjects), with
 * scikit-learn's TfidfVectorizer defaults as the reference (docs/research/scoring.md §4.7):
 * lowercase; tokens are runs of two or more word characters (token_pattern \b\w\w+\b);
 * idf = ln((1+N)/(1+df)) + 1 (smooth_idf); raw counts as tf (or 1 + ln tf with sublinearTf);
 * every row L2-normalised, so cosine similarity is a dot product. Fit the idf on a training
 * corpus; terms unseen there are ignored. An empty document has similarity 0 to everything.
 * (Not `natural`'s TfIdf, whose idf is 1 + ln(N/(1+df)).)
 */

export type TfIdfOptions = {
  /** ignore terms found in fewer than this many training documents (default 1; sklearn min_df as a count) */
  minDf?: number;
  /** use 1 + ln(tf) instead of the raw count (sklearn sublinear_tf; default false) */
  sublinearTf?: boolean;
  /** terms to drop after lowercasing (default none, as sklearn) */
  stopWords?: ReadonlySet<string>;
};

export type TfIdfModel = {
  /** the vocabulary in sklearn's order (sorted by code unit); a term's index is its column */
  terms: string[];
  idf: number[];
  documents: number;
  sublinearTf: boolean;
  stopWords: ReadonlySet<string>;
  /** term → column */
  index: ReadonlyMap<string, number>;
};

/** A sparse L2-normalised row: column indices ascending, with their weights. */
export type SparseVector = { indices: number[]; values: number[] };

// Python's (?u)\w: letters, digits (all Unicode numbers) and underscore.
const WORD_RUN = /[\p{L}\p{N}_]+/gu;

/** Lowercased tokens of two or more word characters (sklearn's default analyzer, token_pattern \b\w\w+\b). */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  for (const match of text.toLowerCase().matchAll(WORD_RUN)) {
    const token = match[0];
    // Two or more code points, as Python counts: 3+ UTF-16 units always are; 2 units may be one surrogate pair.
    if (token.length >= 3 || (token.length === 2 && [...token].length === 2)) tokens.push(token);
  }
  return tokens;
}

/** Fits the vocabulary and smoothed idf = ln((1+N)/(1+df)) + 1 on a corpus (sklearn TfidfVectorizer.fit). */
export function fitTfIdf(documents: readonly string[], options: TfIdfOptions = {}): TfIdfModel {
  const minDf = options.minDf ?? 1;
  if (!(Number.isInteger(minDf) && minDf >= 1)) throw new RangeError(`minDf must be an integer ≥ 1, got ${minDf}`);
  const stopWords = options.stopWords ?? new Set<string>();
  const df = new Map<string, number>();
  for (const doc of documents) {
    if (typeof doc !== 'string') throw new TypeError('fitTfIdf: every document must be a string');
    for (const term of new Set(tokenize(doc))) {
      if (!stopWords.has(term)) df.set(term, (df.get(term) ?? 0) + 1);
    }
  }
  const n = documents.length;
  const terms = [...df.keys()].filter((t) => (df.get(t) as number) >= minDf).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    terms,
    idf: terms.map((t) => Math.log((1 + n) / (1 + (df.get(t) as number))) + 1),
    documents: n,
    sublinearTf: options.sublinearTf ?? false,
    stopWords,
    index: new Map(terms.map((t, i) => [t, i])),
  };
}

/** The L2-normalised TF-IDF row of one text under a fitted model (sklearn TfidfVectorizer.transform). */
export function tfIdfVector(model: TfIdfModel, text: string): SparseVector {
  const counts = new Map<number, number>();
  for (const term of tokenize(text)) {
    const column = model.index.get(term);
    if (column !== undefined) counts.set(column, (counts.get(column) ?? 0) + 1);
  }
  const indices = [...counts.keys()].sort((a, b) => a - b);
  const values = indices.map((i) => {
    const tf = counts.get(i) as number;
    return (model.sublinearTf ? 1 + Math.log(tf) : tf) * (model.idf[i] as number);
  });
  let sumSq = 0;
  for (const v of values) sumSq += v * v;
  const norm = Math.sqrt(sumSq);
  return { indices, values: norm > 0 ? values.map((v) => v / norm) : values };
}

/** Cosine similarity of two L2-normalised sparse rows: their dot product; 0 when either is empty. */
export function cosineSimilarity(a: SparseVector, b: SparseVector): number {
  let i = 0;
  let j = 0;
  let dot = 0;
  while (i < a.indices.length && j < b.indices.length) {
    const ai = a.indices[i] as number;
    const bj = b.indices[j] as number;
    if (ai === bj) dot += (a.values[i++] as number) * (b.values[j++] as number);
    else if (ai < bj) i++;
    else j++;
  }
  return dot;
}
