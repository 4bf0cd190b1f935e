import { type Attributes, type CompiledFilters, compileFilters, type Filter } from "./filters.ts";
import { matchesAny } from "./type-pattern.ts";

/** What a subscription selects: event types, and among them the events its attribute filters let through. */
export class Selector {
  /** The filters compiled, or undefined when there are none. */
  readonly filter: CompiledFilters | undefined;

  constructor(readonly types: readonly string[], readonly filters: readonly Filter[] = []) {
    this.filter = compileFilters(filters);
  }

  /** Whether an event of `type` is selected; `attributes` is asked only when the type is and there are filters. */
  selects(type: string, attributes: () => Attributes): boolean {
    return matchesAny(this.types, type) && (this.filter === undefined || this.filter.test(attributes()));
  }
}
