/**
 * Numbers JSON cannot carry: JSON.parse reads `1e400` as Infinity, and JSON.stringify
 * writes Infinity and NaN as `null`, so such a value would reach subscribers changed.
 */

type Visit = [value: unknown, key: PropertyKey, parent: Visit | undefined];

/** The paths within `root` of every non-finite number, in document order; none for most values, quickly. */
export function nonFinitePaths(root: unknown): PropertyKey[][] {
  if (typeof root !== "object" || root === null) return typeof root === "number" && !Number.isFinite(root) ? [[]] : [];
  return hasNonFinite(root) ? pathsOfNonFinite(root) : [];
}

/** The pass that finds nothing, quickly: no paths kept, only containers stacked. A loop: JSON.parse nests deeper than the call stack. */
function hasNonFinite(root: object): boolean {
  const containers: object[] = [root];
  while (containers.length > 0) {
    const container = containers.pop()!;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) if (isNonFinite(container[i], containers)) return true;
    } else {
      for (const key in container) if (isNonFinite((container as Record<string, unknown>)[key], containers)) return true;
    }
  }
  return false;
}

/** Whether `value` is a non-finite number; a container is stacked to be looked into. */
function isNonFinite(value: unknown, containers: object[]): boolean {
  if (typeof value === "number") return !Number.isFinite(value);
  if (typeof value === "object" && value !== null) containers.push(value);
  return false;
}

/** The slow pass, only for a value that has one: each visit links to its parent, so paths are built only for what is found. */
function pathsOfNonFinite(root: object): PropertyKey[][] {
  const found: PropertyKey[][] = [];
  const pending: Visit[] = [[root, "", undefined]];
  for (let visit = pending.pop(); visit; visit = pending.pop()) {
    const value = visit[0];
    if (typeof value === "number" && !Number.isFinite(value)) found.push(pathOf(visit));
    if (typeof value !== "object" || value === null) continue;
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      pending.push([(value as Record<string, unknown>)[keys[i]], Array.isArray(value) ? i : keys[i], visit]);
    }
  }
  return found;
}

function pathOf(visit: Visit): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let at: Visit | undefined = visit; at?.[2]; at = at[2]) path.push(at[1]);
  return path.reverse();
}
