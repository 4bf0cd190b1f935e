/**
 * Event types and the patterns that select them.
 *
 * A pattern is `*` (every type), `prefix.*` (every type under the dotted prefix,
 * so `order.*` matches `order.filled` and `order.leg.filled` but not `order`), or
 * an exact type.
 */

/** 1–128 chars of `[A-Za-z0-9._:-]`, starting with a letter or digit. */
export const EVENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const EVENT_TYPE_RULE =
  "must be 1-128 characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit";

export const TYPE_PATTERN_RULE =
  'must be "*", an event type, or an event type followed by ".*"';

/** Whether `pattern` is a valid type pattern. */
export function isTypePattern(pattern: string): boolean {
  if (pattern === "*") return true;
  const exact = pattern.endsWith(".*") ? pattern.slice(0, -2) : pattern;
  return EVENT_TYPE.test(exact);
}

/** Whether `type` is selected by `pattern` (both assumed valid). */
export function matchesPattern(pattern: string, type: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Whether `type` is selected by any of `patterns`. */
export function matchesAny(patterns: readonly string[], type: string): boolean {
  return patterns.some((pattern) => matchesPattern(pattern, type));
}

/** `patterns` without those another of them covers (`order.filled` under `order.*`, anything under `*`), each once. */
export function withoutSubsumed(patterns: readonly string[]): string[] {
  const unique = [...new Set(patterns)];
  return unique.filter((pattern) => !unique.some((other) => other !== pattern && covers(other, pattern)));
}

/** Whether every type `inner` selects is selected by `outer`. */
function covers(outer: string, inner: string): boolean {
  if (outer === "*") return true;
  if (inner === "*" || !outer.endsWith(".*")) return false;
  return inner.startsWith(outer.slice(0, -1));
}

/**
 * The patterns selecting exactly the types that both lists select, so a subscription's
 * filter can be narrowed to what a grant allows and still be indexed.
 */
export function intersectPatterns(left: readonly string[], right: readonly string[]): string[] {
  const result = new Set<string>();
  for (const a of left) {
    for (const b of right) {
      const both = intersectTwo(a, b);
      if (both !== null) result.add(both);
    }
  }
  return [...result];
}

function intersectTwo(a: string, b: string): string | null {
  if (a === "*") return b;
  if (b === "*") return a;
  const aPrefix = a.endsWith(".*");
  const bPrefix = b.endsWith(".*");
  if (!aPrefix && !bPrefix) return a === b ? a : null;
  if (aPrefix && !bPrefix) return matchesPattern(a, b) ? b : null;
  if (!aPrefix && bPrefix) return matchesPattern(b, a) ? a : null;
  // Both prefixes: the narrower one, if it lies under the wider one.
  if (a.startsWith(b.slice(0, -1))) return a;
  if (b.startsWith(a.slice(0, -1))) return b;
  return null;
}
