/** The broker's typed client: `fetch` only, for Bun, Deno, Node and browsers. */
export { BrokerClient } from "./client.ts";
export type { ClientOptions, DeliveredEvent, EventFilter, EventPage, EventToPublish, PublishResult, SubscriptionInfo, SubscriptionSpec } from "./client.ts";
export type { ConsumeOptions } from "./consume.ts";
export { BrokerRequestError, BrokerUnreachableError, type Problem } from "./errors.ts";
export { type SseMessage, SseParser } from "./sse-parser.ts";
export type { StreamMessage, StreamOptions } from "./stream.ts";
