/**
 * Misspelled CloudEvents attributes. Kept as an extension, `sorce` would let the event go
 * out with source "/" without a word: a name one edit from an attribute's is almost always
 * a typo, so it is refused, naming the attribute it probably meant.
 */

/** CloudEvents 1.0 context attributes and the two data members, but `id` (see below). */
const ATTRIBUTES = ["specversion", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"];
/** By a name's length, the attributes one edit can reach: most extension names have none. */
const WITHIN_ONE_LENGTH = Array.from({ length: 17 }, (_, length) => ATTRIBUTES.filter((attribute) => Math.abs(attribute.length - length) <= 1));

/**
 * The attribute `name` is probably meant to be, or undefined: case aside, `name` is one
 * insertion, deletion, substitution or swap of two neighbours away from it, and not a name
 * chosen on purpose (see `isChosenName`). `id` is matched only by a swap (`di`): every
 * other name one edit from two letters is a name of its own (`uid`, `cid`, `ids`, `ip`).
 */
export function misspelledAttribute(name: string): string | undefined {
  if (name.length === 2) return /^(id|di)$/i.test(name) ? "id" : undefined;
  const candidates = WITHIN_ONE_LENGTH[name.length];
  if (!candidates?.length) return undefined;
  const lower = name.toLowerCase();
  return candidates.find((attribute) => withinOneEdit(lower, attribute) && !isChosenName(lower, attribute));
}

/** Whether `a` and `b` are equal or one insertion, deletion, substitution or neighbour swap apart. */
function withinOneEdit(a: string, b: string): boolean {
  // Strip the common prefix and suffix (without slicing: this runs for every extension of every event).
  let start = 0;
  while (start < a.length && start < b.length && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a.charCodeAt(endA - 1) === b.charCodeAt(endB - 1)) {
    endA--;
    endB--;
  }
  if (endA - start <= 1 && endB - start <= 1) return true;
  return endA - start === 2 && endB - start === 2 && a[start] === b[start + 1] && a[start + 1] === b[start];
}

/**
 * Names one edit from `attribute` that are chosen, not mistyped: one with a digit more
 * (`type2`, `data1`), or a letter in front of the whole attribute (`mtime`, `dtype`, `odata`).
 */
function isChosenName(name: string, attribute: string): boolean {
  return digitCount(name) > digitCount(attribute) || (name.length === attribute.length + 1 && name.endsWith(attribute));
}

function digitCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) count++;
  return count;
}
