/**
 * @module copy-with
 * A copy of an object with fields added or replaced, as `{ ...base, ...extra }` makes it (the
 * same fields in the same order with the same values), made by Object.assign onto an empty
 * literal. Node 20's V8 (11.3) gives the object a leading spread makes (`{ ...base, a, b }`) a
 * hidden class outside the transition tree, so every field defined after the spread that a
 * non-empty base does not have makes a new hidden class in the old generation, through the
 * runtime's slow path: ~2 µs of CPU and 80–410 octets of old space per copy, against ~0.2 µs
 * and none here (docs/performance.md, "Session 14: the accept path's object copies"). The
 * accept path copies an envelope or a target this way several times per message. A spread that
 * only replaces fields the base has is faster than this (0.03–0.04 against 0.24–0.34 µs; "the
 * delivery side's object copies, not moved"): keep the spread there.
 * Standards: none.
 * Security: a `base` with an own `__proto__` field (JSON.parse makes one) is copied by the
 *   spread, which defines it as a field; assigning it would set the copy's prototype.
 * Limitations: `base`'s own enumerable fields are read as a spread reads them (getters run).
 */
export function copyWith<T extends object, E extends object>(base: T, extra: E): T & E {
  if (Object.hasOwn(base, '__proto__') || Object.hasOwn(extra, '__proto__')) return { ...base, ...extra };
  return Object.assign({}, base, extra);
}
