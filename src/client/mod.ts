/** The broker's typed client: `fetch` only, for Bun, Deno, Node and browsers. */
export { BrokerClient } from "./client.ts";
export type { ClientOptions, ConsumeOptions, DeliveredEvent, EventToPublish, PublishResult, StreamMessage, StreamOptions, SubscriptionInfo } from "./client.ts";
export { BrokerRequestError, type Problem } from "./errors.ts";
export { type SseMessage, SseParser } from "./sse-parser.ts";
