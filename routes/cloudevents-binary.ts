/** CloudEvents HTTP binary mode: attributes in `ce-*` headers, the body is `data`. */
import { type FieldIssue, ValidationError } from "../src/broker/mod.ts";
import { decodeUtf8, parseJson } from "./body.ts";

const PREFIX = "ce-";

export function isBinaryMode(headers: Headers): boolean {
  return headers.has("ce-type") || headers.has("ce-specversion");
}

/** The event that binary-mode headers and body describe. */
export function eventFromBinary(headers: Headers, body: Uint8Array, mediaType: string): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const [name, value] of headers) {
    if (name.startsWith(PREFIX)) event[name.slice(PREFIX.length)] = decodeHeader(name, value);
  }
  const contentType = headers.get("content-type");
  if (body.length === 0) return event;
  if (mediaType === "application/json" || mediaType.endsWith("+json")) {
    event.data = parseJson(textOf(body));
    event.datacontenttype = contentType;
  } else if (mediaType.startsWith("text/") || mediaType === "application/x-www-form-urlencoded" || mediaType === "") {
    event.data = textOf(body);
    event.datacontenttype = contentType ?? "text/plain";
  } else {
    event.data_base64 = toBase64(body);
    event.datacontenttype = contentType;
  }
  return event;
}

/** A text body's characters; a body that is not UTF-8 is refused rather than stored with U+FFFD in place of its bad bytes. */
function textOf(body: Uint8Array): string {
  const text = decodeUtf8(body);
  if (text === undefined) throw new ValidationError([{ path: "/data", message: "is not valid UTF-8" }]);
  return text;
}

/** Names a binary-mode error by the header or body it came from. */
export function binaryModeError(error: ValidationError): ValidationError {
  const issues = error.issues.map((issue): FieldIssue => {
    if (!issue.path.startsWith("/")) return issue; // already names its header
    const field = issue.path.split("/")[1];
    const where = field === "data" || field === "data_base64" || field === "datacontenttype" ? "body" : PREFIX + field;
    return { path: where, message: issue.message };
  });
  return new ValidationError(issues, error.message);
}

/** Header values are percent-encoded (CloudEvents HTTP binding 3.1.3.2). */
function decodeHeader(name: string, value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ValidationError([{ path: name, message: "is not valid percent-encoding" }]);
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
