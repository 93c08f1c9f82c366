/**
 * The canonical encoding of JSON values, defined once: JSON.stringify with object keys sorted
 * (by UTF-16 code unit, Array.prototype.sort's default) at every level and no whitespace. Equal
 * documents give equal text whatever their key order; it is what an admin signature covers
 * (signature.ts) and what networkd compares revisions by (networkd/revision.ts).
 */

/** JSON with object keys sorted at every level, no whitespace: equal documents give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}
