/**
 * Kubernetes LabelSelector (matchLabels + matchExpressions with In, NotIn, Exists,
 * DoesNotExist): validation and matching, as the apiserver defines them. An absent selector
 * matches everything; an empty one ({}) too.
 */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A normalized copy, or throws Error naming the field. */
export function parseLabelSelector(v: unknown, field: string): LabelSelector | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) throw new Error(`${field} must be an object`);
  for (const k of Object.keys(v)) if (k !== 'matchLabels' && k !== 'matchExpressions') throw new Error(`${field}.${k} is not a LabelSelector field`);
  const out: LabelSelector = {};
  if (v.matchLabels !== undefined) {
    if (!isPlainObject(v.matchLabels)) throw new Error(`${field}.matchLabels must be an object of strings`);
    const labels: Record<string, string> = {};
    for (const [k, val] of Object.entries(v.matchLabels)) {
      if (typeof val !== 'string') throw new Error(`${field}.matchLabels.${k} must be a string`);
      labels[k] = val;
    }
    out.matchLabels = labels;
  }
  if (v.matchExpressions !== undefined) {
    if (!Array.isArray(v.matchExpressions)) throw new Error(`${field}.matchExpressions must be a list`);
    out.matchExpressions = v.matchExpressions.map((e: unknown, i) => {
      const at = `${field}.matchExpressions[${i}]`;
      if (!isPlainObject(e) || typeof e.key !== 'string' || e.key === '') throw new Error(`${at}.key must be a non-empty string`);
      const op = e.operator;
      if (typeof op !== 'string' || !(OPERATORS as readonly string[]).includes(op)) throw new Error(`${at}.operator must be one of ${OPERATORS.join(', ')}`);
      const values = e.values;
      if (values !== undefined && (!Array.isArray(values) || values.some((x) => typeof x !== 'string'))) throw new Error(`${at}.values must be a list of strings`);
      const list = (values ?? []) as string[];
      if ((op === 'In' || op === 'NotIn') && list.length === 0) throw new Error(`${at}.values must be non-empty for ${op}`);
      if ((op === 'Exists' || op === 'DoesNotExist') && list.length > 0) throw new Error(`${at}.values must be empty for ${op}`);
      const req: LabelSelectorRequirement = { key: e.key, operator: op as LabelSelectorRequirement['operator'] };
      if (list.length > 0) req.values = list;
      return req;
    });
  }
  return out;
}

export function labelsMatch(sel: LabelSelector | undefined, labels: Readonly<Record<string, string>> = {}): boolean {
  if (sel === undefined) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
