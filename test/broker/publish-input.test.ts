import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeEvents, prepareInputs, templatesOf } from "../../src/broker/publish-input.ts";

const inputs = [
  { type: "a", data: { seq: 0, text: '"seq":0' } },
  { type: "b" },
  { type: "c", subject: "x", data: [1, 2, 3] },
];

function prepared() {
  let id = 0;
  return prepareInputs(inputs, (index) => `/${index}`, "2026-01-01T00:00:00.000Z", () => `id-${id++}`);
}

test("a template filled with any seq is the event encoded with that seq, for every event of a batch", () => {
  const templates = templatesOf(prepared(), () => "");
  const seqs = [7, 1234, 1234567890123];
  templates.forEach((template, index) => {
    const filled = template.head + seqs[index] + template.tail;
    const [expected] = encodeEvents([prepared()[index]], seqs[index], () => "");
    assert.equal(filled, expected.json);
    assert.equal(JSON.parse(filled).seq, seqs[index]);
  });
});
