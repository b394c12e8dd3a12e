/** Guards for JSON read from the wire (AdmissionReviews, Kubernetes objects, hook reports). */

export type JsonObject = Record<string, unknown>;

/** A JSON object: not null, not an array. */
export const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The object itself, or an empty one for anything else (for optional nested fields). */
export const asObject = (v: unknown): JsonObject => (isObject(v) ? v : {});

/** A string, or undefined for anything else. */
export const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
