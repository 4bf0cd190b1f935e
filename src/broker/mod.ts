/** The broker core's public surface: runtime-free, no HTTP. */
export { Broker, defaultBrokerOptions } from "./broker.ts";
export type { BrokerOptions, BrokerStats, PublishOptions, PublishResult, PullOptions, SubscriberOptions, Subscription } from "./broker.ts";
export { type Clock, systemClock } from "./clock.ts";
export {
  NeverDeliveredError,
  BacklogFullError,
  BatchTooLargeError,
  BrokerClosedError,
  BrokerError,
  ForbiddenTypeError,
  type FieldIssue,
  NotRequiredError,
  SubscriptionNotFoundError,
  TooManySubscriptionsError,
  TooManyWaitingPullsError,
  ValidationError,
} from "./errors.ts";
export { type AcceptedEvent, type EventInput, eventInputSchema } from "./event.ts";
export { type EventLog, type Gap, type LogRead, RingHistory } from "./history.ts";
export { type Delivery, type ParkedEvent, RequiredSubscription } from "./required-subscription.ts";
export { isNotice, type StreamItem, type StreamNotice, StreamSubscription } from "./stream-subscription.ts";
export { type RequiredSpec, requiredSpecSchema, type StreamSpec, streamSpecSchema, typePatternsSchema } from "./subscription-spec.ts";
export { intersectPatterns, isTypePattern, matchesAny, matchesPattern } from "./type-pattern.ts";
export { parseOrThrow } from "./validate.ts";
