/**
 * A JSON reader as strict as the safetensors reference implementation's (serde_json into typed structs), where
 * `JSON.parse` is lenient: a repeated key is an error (JSON.parse keeps the last), and a number written with a
 * fraction or an exponent (`0.0`, `1e0`) is kept apart from an integer, since the format's offsets and shapes must be
 * integers. Nesting is limited, so a hostile header cannot exhaust the stack.
 * @module
 */

/** A number that was written with a fraction or an exponent: never an integer field. */
export class FloatLiteral {
  constructor(readonly value: number) {}
}

/** A parsed JSON value; numbers written as integers are plain numbers. */
export type StrictJson = null | boolean | number | FloatLiteral | string | StrictJson[] | { [key: string]: StrictJson };

/** What went wrong, and at which character. */
export class StrictJsonError extends Error {}

const MAX_DEPTH = 64;
const WS = new Set([" ", "\t", "\n", "\r"]);
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/**
 * Parses `text` as one JSON value followed only by whitespace.
 * @throws {StrictJsonError} malformed JSON, a repeated key, or nesting deeper than 64
 */
export function parseStrictJson(text: string): StrictJson {
  let at = 0;
  const fail = (what: string): never => {
    throw new StrictJsonError(`${what} at character ${at}`);
  };
  const skip = (): void => {
    while (at < text.length && WS.has(text[at]!)) at++;
  };
  const string = (): string => {
    STRING.lastIndex = at;
    const m = STRING.exec(text);
    if (!m) fail("expected a string");
    at += m![0].length;
    return JSON.parse(m![0]) as string;
  };
  const value = (depth: number): StrictJson => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    skip();
    const c = text[at];
    if (c === "{") {
      at++;
      const obj: { [key: string]: StrictJson } = Object.create(null) as { [key: string]: StrictJson };
      const seen = new Set<string>();
      skip();
      if (text[at] === "}") {
        at++;
        return obj;
      }
      for (;;) {
        skip();
        const key = string();
        if (seen.has(key)) fail(`the key ${JSON.stringify(key)} appears twice`);
        seen.add(key);
        skip();
        if (text[at] !== ":") fail("expected ':'");
        at++;
        obj[key] = value(depth + 1);
        skip();
        if (text[at] === ",") {
          at++;
          continue;
        }
        if (text[at] === "}") {
          at++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      at++;
      const arr: StrictJson[] = [];
      skip();
      if (text[at] === "]") {
        at++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        skip();
        if (text[at] === ",") {
          at++;
          continue;
        }
        if (text[at] === "]") {
          at++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = at;
    const m = NUMBER.exec(text);
    if (!m) return fail("expected a value");
    at += m[0].length;
    const n = Number(m[0]);
    return m[1] !== undefined || m[2] !== undefined ? new FloatLiteral(n) : n;
  };
  const v = value(0);
  skip();
  if (at !== text.length) fail("unexpected text after the value");
  return v;
}
