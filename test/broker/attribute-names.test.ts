import assert from "node:assert/strict";
import { test } from "node:test";
import { misspelledAttribute } from "../../src/broker/attribute-names.ts";
import { ValidationError } from "../../src/broker/errors.ts";
import { validateEvents } from "../../src/broker/event.ts";

test("misspelledAttribute() names the attribute one insertion, deletion, substitution or swap away", () => {
  const cases: Record<string, string> = {
    sorce: "source", sourcee: "source", sourse: "source", soucre: "source", Source: "source", sources: "source",
    tpye: "type", typ: "type", tyoe: "type", types: "type", subjet: "subject", subjcet: "subject",
    tiem: "time", tme: "time", dta: "data", daat: "data", dtaa: "data", specverison: "specversion",
    datacontentype: "datacontenttype", DataContentType: "datacontenttype", dataschem: "dataschema",
    database64: "data_base64", data_base46: "data_base64", di: "id", ID: "id",
  };
  for (const [name, meant] of Object.entries(cases)) assert.equal(misspelledAttribute(name), meant, name);
});

test("misspelledAttribute() leaves real-world extensions, numbered names, prefixed names and names near id alone", () => {
  const extensions = [
    "traceparent", "tracestate", "partitionkey", "sequence", "sequencetype", "dataref", "comexampleextension1", "date",
    "authtype", "authid", "recordedtime", "expirytime", "correlationid", "causationid", "knativearrivaltime", "topic",
    "type2", "data1", "time0", "mtime", "ctime", "dtype", "odata", "uid", "cid", "ids", "ip", "i", "x", "n", "resource",
  ];
  for (const name of extensions) assert.equal(misspelledAttribute(name), undefined, name);
});

test("validateEvents() refuses a misspelled attribute naming the one it probably means, whatever its value", () => {
  const issuesOf = (input: unknown) => {
    try {
      validateEvents([input], () => "");
    } catch (error) {
      if (error instanceof ValidationError) return error.issues;
      throw error;
    }
    return [];
  };
  assert.deepEqual(issuesOf({ type: "a", sorce: "/shop" }), [{ path: "/sorce", message: "is not a CloudEvents attribute; did you mean source?" }]);
  assert.deepEqual(issuesOf({ type: "a", dta: { qty: 1 } }), [{ path: "/dta", message: "is not a CloudEvents attribute; did you mean data?" }]);
  assert.deepEqual(issuesOf({ type: "a", Subject: "x" }), [{ path: "/Subject", message: "is not a CloudEvents attribute; did you mean subject?" }]);
  assert.deepEqual(issuesOf({ type: "a", traceparent: "00-ab", partitionkey: "k", sequence: "7", dataref: "s3://b/k", comexampleextension1: 1 }), []);
});
