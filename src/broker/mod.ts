/** The broker core's public surface: runtime-free, no HTTP. */
export { Broker, defaultBrokerOptions } from "./broker.ts";
export type { BrokerOptions, BrokerStats, PublishOptions, PublishResult, PullOptions, SubscriberOptions, Subscription } from "./broker.ts";
export { type Clock, systemClock } from "./clock.ts";
export type { AckResult, BackgroundFault, Engine, EngineHealth, EngineStats, LogPage, SubscriptionView } from "./engine.ts";
export type { Ledger } from "./ledger.ts";
export { Selector } from "./selector.ts";
export { LocalEngine, viewOf } from "./local-engine.ts";
export {
  NeverDeliveredError,
  BacklogFullError,
  BatchTooLargeError,
  BrokerClosedError,
  BrokerError,
  type BrokerErrorCode,
  ForbiddenTypeError,
  type FieldIssue,
  MemoryBudgetError,
  NotRequiredError,
  StorageError,
  SubscriptionNotFoundError,
  TooManySubscriptionsError,
  TooManyWaitingPullsError,
  ValidationError,
} from "./errors.ts";
export { type AcceptedEvent, type EventInput, eventInputSchema, utf8Bytes } from "./event.ts";
export { type Attributes, type Filter, filterSchema, filtersSchema } from "./filters.ts";
export type { DeliveryRecord, Journal, JournalChanges, JournalEvent, ParkedRecord, RecoveredState, SubscriptionRecord } from "./journal.ts";
export { type EventLog, type Gap, JournaledHistory, type LogRead, RingHistory } from "./history.ts";
export { BUDGET_SHARES, type BudgetPartName, MemoryBudget, MemoryPart } from "./memory-budget.ts";
export { type Delivery, type ParkedEvent, RequiredSubscription } from "./required-subscription.ts";
export { isNotice, type StreamItem, type StreamNotice, StreamSubscription } from "./stream-subscription.ts";
export { type RequiredSpec, requiredSpecSchema, type StreamSpec, streamSpecSchema, typePatternsSchema } from "./subscription-spec.ts";
export { intersectPatterns, isTypePattern, matchesAny, matchesPattern } from "./type-pattern.ts";
export { parseOrThrow } from "./validate.ts";
