import { Broker, type BrokerOptions } from "../../src/broker/mod.ts";
import { FakeClock } from "./fake-clock.ts";

/** A broker on a fake clock with counting ids, and the clock to drive it. */
export function brokerOnFakeClock(options: Partial<BrokerOptions> = {}): { broker: Broker; clock: FakeClock } {
  const clock = new FakeClock();
  let next = 0;
  const broker = new Broker({ clock, newId: () => `id-${++next}`, ...options });
  return { broker, clock };
}

/** The seqs of pulled deliveries, flattened. */
export function seqsOf(deliveries: readonly { events: readonly { seq: number }[] }[]): number[] {
  return deliveries.flatMap((delivery) => delivery.events.map((event) => event.seq));
}

/** An accepted event's JSON, parsed. */
export function parsed(event: { json: string }): Record<string, unknown> {
  return JSON.parse(event.json);
}
