import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';

/** Keys every JavaScript object answers through its prototype, and ones that change it when assigned. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf'] as const;

/** Characters that break storage or display: NUL and other controls, bidirectional controls, zero-width ones, lone surrogates, separators. */
const NASTY_CHARACTERS = ['\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009f', '\u00a0', '\u00ad', '\u061c', '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202e', '\u2066', '\u2069', '\u2060', '\ufeff', '\ufffd', '\uffff', '\ud800', '\udfff', '\u{1f600}', '\u{e0001}', '%', '%00', '\\', '"', "'", '$', '{', '.', '/', '..', ':', '@', '|'];

const nastyCharacter = fc.constantFrom(...NASTY_CHARACTERS);

/** A string with some nasty characters spliced into ordinary text, or a prototype key, or a huge one. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), nastyCharacter, fc.string({ maxLength: 8 })).map(([a, c, b]) => `${a}${c}${b}`) },
  { weight: 2, arbitrary: fc.array(nastyCharacter, { minLength: 1, maxLength: 6 }).map((cs) => cs.join('')) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '   ', 'null', 'undefined', 'true', '0', '-1', '1e309', 'NaN', '[object Object]', '$ne', '{"$gt": ""}', 'local:x', 'invite:x', '*') },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', 'é', '\u{1f600}', '\u0000', 'ab%'), fc.integer({ min: 129, max: 300_000 })).map(([c, n]) => c.repeat(n)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
);

/**
 * Deeply nested values stand in the tree as a marker string, expanded by toJsonText: built as
 * objects, JSON.stringify (and the copies made to mutate them) would overflow the stack here.
 */
const deep = (depth: number, asArray: boolean): string => `__fuzz_deep_${depth}_${asArray ? 'array' : 'object'}__`;
const DEEP_MARKER = /"__fuzz_deep_(\d+)_(array|object)__"/g;

/** JSON.stringify, with deep markers expanded into nesting `depth` levels deep. */
export function toJsonText(value: unknown): string {
  const text = JSON.stringify(value) ?? '';
  return text.replace(DEEP_MARKER, (_match, depth: string, kind: string) =>
    kind === 'array' ? `${'['.repeat(Number(depth))}"x"${']'.repeat(Number(depth))}` : `${'{"a":'.repeat(Number(depth))}"x"${'}'.repeat(Number(depth))}`,
  );
}

/** A value of any JSON type, chosen to be wrong wherever it lands: wrong types, extremes, deep and huge values, prototype keys. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  { weight: 2, arbitrary: fc.constantFrom(null, true, false, 0, -0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, Number.MIN_VALUE, [], {}, [null], [[]], [{}], '') },
  { weight: 1, arbitrary: fc.double() .filter(Number.isFinite) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 100, max: 100_000 }), fc.boolean()).map(([depth, asArray]) => deep(depth, asArray)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1001, max: 20_000 }), fc.constantFrom<unknown>(1, 'x', {}, null)).map(([n, item]) => new Array(n).fill(item)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), fc.jsonValue({ maxDepth: 2 })).map(([key, value]) => withOwnKey({}, key, value)) },
  { weight: 1, arbitrary: fc.constant(withOwnKey({}, 'constructor', { prototype: { polluted: true } })) },
);

/** Sets a key as an own, enumerable property: `object.__proto__ = v` would set the prototype instead, and JSON.stringify would drop it. */
export function withOwnKey<T extends object>(object: T, key: string, value: unknown): T {
  Object.defineProperty(object, key, { value, enumerable: true, configurable: true, writable: true });
  return object;
}

export type ValueMutation =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'add'; at: number; key: string; value: unknown }
  | { kind: 'remove'; at: number }
  | { kind: 'whole'; value: unknown };

export const valueMutation: fc.Arbitrary<ValueMutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: nastyValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS, 'extra', '', '$where', 'id'), nastyString), value: nastyValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('whole' as const), value: nastyValue }) },
);

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

/** Every place a value sits in a JSON tree (a copy is mutated, never the generated value). */
function slotsOf(value: unknown): { slots: Slot[]; containers: Array<Record<string, unknown> | unknown[]> } {
  const slots: Slot[] = [];
  const containers: Array<Record<string, unknown> | unknown[]> = [];
  const visit = (node: unknown, depth: number) => {
    if (typeof node !== 'object' || node === null || depth > 8) return;
    const container = node as Record<string, unknown> | unknown[];
    containers.push(container);
    for (const key of Object.keys(container)) {
      const slotKey = Array.isArray(container) ? Number(key) : key;
      slots.push({ parent: container, key: slotKey });
      visit((container as Record<string, unknown>)[key], depth + 1);
    }
  };
  visit(value, 0);
  return { slots, containers };
}

const copy = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Applies mutations in order to a deep copy of `value` (copies of the mutation values too: generated values may be shared), and says what each did. */
export function mutate(value: unknown, mutations: readonly ValueMutation[]): { value: unknown; notes: string[] } {
  let result = copy(value);
  const notes: string[] = [];
  for (const mutation of mutations) {
    if (mutation.kind === 'whole') {
      result = copy(mutation.value);
      notes.push('body replaced');
      continue;
    }
    const { slots, containers } = slotsOf(result);
    if (mutation.kind === 'add') {
      const container = containers[mutation.at % Math.max(containers.length, 1)];
      if (!container) continue;
      if (Array.isArray(container)) container.push(copy(mutation.value));
      else withOwnKey(container, mutation.key, copy(mutation.value));
      notes.push(`added ${JSON.stringify(mutation.key).slice(0, 40)}`);
      continue;
    }
    const slot = slots[mutation.at % Math.max(slots.length, 1)];
    if (!slot) continue;
    if (mutation.kind === 'remove') {
      if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
      else delete slot.parent[slot.key as string];
      notes.push(`removed ${String(slot.key).slice(0, 40)}`);
    } else {
      if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = copy(mutation.value);
      else withOwnKey(slot.parent, slot.key as string, copy(mutation.value));
      notes.push(`replaced ${String(slot.key).slice(0, 40)}`);
    }
  }
  return { value: result, notes };
}

/** How the JSON text becomes the bytes on the wire. */
export type Encoding =
  | { kind: 'json' }
  | { kind: 'truncated'; at: number }
  | { kind: 'garbage'; text: string; at: number }
  | { kind: 'literal'; text: string }
  | { kind: 'bad-utf8'; bytes: readonly number[]; at: number }
  | { kind: 'charset'; charset: string }
  | { kind: 'compressed'; algorithm: 'gzip' | 'deflate' | 'br'; damage: 'none' | 'truncate' | 'flip' | 'garbage' | 'bomb' }
  | { kind: 'content-encoding'; value: string };

const INVALID_JSON_LITERALS = [
  '',
  ' ',
  'null',
  '[]',
  '"x"',
  '0',
  '{',
  '}',
  '{"a":}',
  "{'a': 1}",
  '{"a": 1,}',
  '{"a": NaN}',
  '{"a": Infinity}',
  '{"a": 1} {"b": 2}',
  '{"a": 1} // c',
  '\ufeff{}',
  '{"__proto__": {"polluted": true}}',
  '{"constructor": {"prototype": {"polluted": true}}}',
  '{"a": "\\ud800"}',
  '{"a": "\\u0000"}',
  '{"a": 1e99999}',
  '{"a": -0.0e-0}',
  '{"a": 123456789012345678901234567890}',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
  `${'['.repeat(200_000)}${']'.repeat(200_000)}`,
  `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`,
  '\u0000',
  '{"a": "\u0000"}',
];

export const encoding: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 30, arbitrary: fc.constant({ kind: 'json' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncated' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('garbage' as const), text: fc.oneof(fc.constantFrom('}', ']', ',', '"', '\\', '\u0000', 'x', '{"a":1}', '\\u12'), fc.string({ maxLength: 4 })), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('literal' as const), text: fc.constantFrom(...INVALID_JSON_LITERALS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bad-utf8' as const), bytes: fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80], [0x00]), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('charset' as const), charset: fc.constantFrom('utf-16le', 'utf-16', 'latin1', 'iso-8859-1', 'koi8-r', 'utf-7', 'bogus', 'UTF-8', 'utf-32') }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('compressed' as const),
      algorithm: fc.constantFrom('gzip' as const, 'deflate' as const, 'br' as const),
      damage: fc.constantFrom('none' as const, 'truncate' as const, 'flip' as const, 'garbage' as const, 'bomb' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('content-encoding' as const), value: fc.constantFrom('identity', 'IDENTITY', 'compress', 'zstd', 'gzip, gzip', 'x-foo', '', 'gzip;q=1', 'chunked') }) },
);

const COMPRESS = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync } as const;
/** Inflates to more than the 1 MiB body limit from a few kilobytes. */
const BOMB_TEXT = `{"name": "${'a'.repeat(3 * 1024 * 1024)}"}`;
const bombs = new Map<string, Buffer>();

/** The bytes of a JSON text under an encoding, with the content-type charset and content-encoding it needs. */
export function encode(text: string, how: Encoding): { body: Buffer; charset?: string; contentEncoding?: string; note?: string } {
  switch (how.kind) {
    case 'json':
      return { body: Buffer.from(text, 'utf8') };
    case 'truncated':
      return { body: Buffer.from(text.slice(0, how.at % Math.max(text.length, 1)), 'utf8'), note: 'truncated JSON' };
    case 'garbage': {
      const at = how.at % (text.length + 1);
      return { body: Buffer.from(text.slice(0, at) + how.text + text.slice(at), 'utf8'), note: `garbage ${JSON.stringify(how.text)} in the JSON` };
    }
    case 'literal':
      return { body: Buffer.from(how.text, 'utf8'), note: `body ${JSON.stringify(how.text.slice(0, 40))}` };
    case 'bad-utf8': {
      const bytes = Buffer.from(text, 'utf8');
      // Inside a string when there is one, where a decoder would keep the bytes.
      const quote = bytes.indexOf(0x22, how.at % Math.max(bytes.length, 1));
      const at = quote >= 0 ? quote + 1 : how.at % (bytes.length + 1);
      return { body: Buffer.concat([bytes.subarray(0, at), Buffer.from(how.bytes), bytes.subarray(at)]), note: `invalid UTF-8 ${how.bytes.map((b) => b.toString(16)).join(' ')}` };
    }
    case 'charset': {
      const nodeEncoding = ({ 'utf-16le': 'utf16le', 'utf-16': 'utf16le', latin1: 'latin1', 'iso-8859-1': 'latin1' } as Record<string, BufferEncoding>)[how.charset] ?? 'utf8';
      return { body: Buffer.from(text, nodeEncoding), charset: how.charset, note: `charset ${how.charset}` };
    }
    case 'compressed': {
      const compress = COMPRESS[how.algorithm];
      let body: Buffer;
      if (how.damage === 'bomb') {
        body = bombs.get(how.algorithm) ?? compress(Buffer.from(BOMB_TEXT));
        bombs.set(how.algorithm, body);
      } else if (how.damage === 'garbage') body = Buffer.from(`not ${how.algorithm} at all`);
      else {
        body = Buffer.from(compress(Buffer.from(text, 'utf8')));
        if (how.damage === 'truncate') body = body.subarray(0, Math.max(1, Math.floor(body.length / 2)));
        if (how.damage === 'flip' && body.length > 4) body[Math.floor(body.length / 2)]! ^= 0xff;
      }
      return { body, contentEncoding: how.algorithm, note: `${how.algorithm} ${how.damage === 'none' ? 'well-formed' : how.damage}` };
    }
    case 'content-encoding':
      return { body: Buffer.from(text, 'utf8'), contentEncoding: how.value, note: `content-encoding ${JSON.stringify(how.value)}` };
  }
}
