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
  return candidates.find((attribute) => withinOneEdit(name, attribute) && !isChosenName(name.toLowerCase(), attribute));
}

/** Whether `name`, case aside, and `attribute` are equal or one insertion, deletion, substitution or neighbour swap apart. */
function withinOneEdit(name: string, attribute: string): boolean {
  // Strip the common prefix and suffix, without slicing or lowercasing: this runs for every extension.
  let start = 0;
  while (start < name.length && start < attribute.length && lowerCodeAt(name, start) === attribute.charCodeAt(start)) start++;
  let endName = name.length;
  let endAttribute = attribute.length;
  while (endName > start && endAttribute > start && lowerCodeAt(name, endName - 1) === attribute.charCodeAt(endAttribute - 1)) {
    endName--;
    endAttribute--;
  }
  if (endName - start <= 1 && endAttribute - start <= 1) return true;
  return endName - start === 2 && endAttribute - start === 2 &&
    lowerCodeAt(name, start) === attribute.charCodeAt(start + 1) && lowerCodeAt(name, start + 1) === attribute.charCodeAt(start);
}

/** The character code at `index`, an ASCII capital as its lowercase letter. */
function lowerCodeAt(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code >= 65 && code <= 90 ? code + 32 : code;
}

/** Words producers use as extensions on purpose, one edit from an attribute though they are. */
const CHOSEN_WORDS = new Set(["date"]);

/**
 * Names one edit from `attribute` that are chosen, not mistyped: one with a digit more
 * (`type2`, `data1`), a letter in front of the whole attribute (`mtime`, `dtype`, `odata`),
 * or a word of their own (`date`).
 */
function isChosenName(name: string, attribute: string): boolean {
  if (CHOSEN_WORDS.has(name)) return true;
  return digitCount(name) > digitCount(attribute) || (name.length === attribute.length + 1 && name.endsWith(attribute));
}

function digitCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) count++;
  return count;
}
