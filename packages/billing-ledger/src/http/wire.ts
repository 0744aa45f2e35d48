/**
 * Hand-written readers of the gateway's JSON: every field read is checked (type, canonical digits, ISO time, enum
 * member, bounded list) and a mismatch throws {@link WireShapeError} naming the field's path. Fields the client does not
 * read are ignored, so the gateway may add some.
 */

/** Longest list the client decodes from one answer (lots of a hold, pools of a balance, pricing lines, …). */
export const wireListLengthMax = 1000;
/** Longest base-10 integer string decoded (amounts, units, sequence numbers). */
export const wireDigitsLengthMax = 20;
/** Longest quote of a bad value in a shape error's message. */
export const quotedValueLengthMax = 60;

/**
 * A field of an answer broke the wire shape; the transport turns it into a `malformed_response`.
 *
 * @example
 * throw new WireShapeError('body.amountMicro', 'canonical base-10 digits', '1e6');
 */
export class WireShapeError extends Error {
  override readonly name = 'WireShapeError';
  readonly path: string;
  readonly expected: string;
  constructor(path: string, expected: string, value: unknown) {
    super(`${path} must be ${expected}, got ${describe(value)}`);
    this.path = path;
    this.expected = expected;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  if (text === undefined) return typeof value;
  return text.length > quotedValueLengthMax ? `${text.slice(0, quotedValueLengthMax - 3)}...` : text;
}

/** A JSON object read field by field. */
export type WireObject = Readonly<Record<string, unknown>>;

const digits = /^(?:0|[1-9][0-9]*)$/;
const isoUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * The value as an object (not null, not an array).
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readObject(body, 'body')
 */
export function readObject(value: unknown, path: string): WireObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WireShapeError(path, 'an object', value);
  }
  return value as WireObject;
}

/**
 * A string field (1 or more characters).
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readText(o, 'id', 'body')
 */
export function readText(o: WireObject, key: string, path: string): string {
  const value = o[key];
  if (typeof value !== 'string' || value.length === 0) throw new WireShapeError(`${path}.${key}`, 'a string', value);
  return value;
}

/**
 * A string field or null.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readTextOrNull(o, 'meterId', 'body')
 */
export function readTextOrNull(o: WireObject, key: string, path: string): string | null {
  return o[key] === null ? null : readText(o, key, path);
}

/**
 * A base-10 integer string (canonical digits) as a bigint.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readDigits('340', 'usage.output_tokens') // 340n
 */
export function readDigits(value: unknown, path: string): bigint {
  if (typeof value !== 'string' || value.length > wireDigitsLengthMax || !digits.test(value)) {
    throw new WireShapeError(path, `canonical base-10 digits (at most ${wireDigitsLengthMax})`, value);
  }
  return BigInt(value);
}

/**
 * A micro-USD (or units) field: canonical digits as a bigint.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readMicro(o, 'amountMicro', 'body') // 1500000n
 */
export function readMicro(o: WireObject, key: string, path: string): bigint {
  return readDigits(o[key], `${path}.${key}`);
}

/**
 * A micro-USD field or null.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readMicroOrNull(o, 'chargedMicro', 'body')
 */
export function readMicroOrNull(o: WireObject, key: string, path: string): bigint | null {
  return o[key] === null ? null : readMicro(o, key, path);
}

/**
 * An ISO 8601 time field as a `Date`.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readTime(o, 'createdAt', 'body')
 */
export function readTime(o: WireObject, key: string, path: string): Date {
  const value = o[key];
  const ms = typeof value === 'string' && isoUtc.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new WireShapeError(`${path}.${key}`, 'an ISO 8601 time', value);
  return new Date(ms);
}

/**
 * An ISO 8601 time field or null.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readTimeOrNull(o, 'resolvedAt', 'body')
 */
export function readTimeOrNull(o: WireObject, key: string, path: string): Date | null {
  return o[key] === null ? null : readTime(o, key, path);
}

/**
 * A safe integer field in `min..max`.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readInteger(o, 'version', 'body', 1, 2_147_483_647)
 */
export function readInteger(o: WireObject, key: string, path: string, min: number, max: number): number {
  const value = o[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new WireShapeError(`${path}.${key}`, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/**
 * A safe integer field in `min..max`, or null.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readIntegerOrNull(o, 'ttlSeconds', 'body', 1, 2_592_000)
 */
export function readIntegerOrNull(o: WireObject, key: string, path: string, min: number, max: number): number | null {
  return o[key] === null ? null : readInteger(o, key, path, min, max);
}

/**
 * A boolean field.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readBoolean(o, 'capped', 'body.pricing')
 */
export function readBoolean(o: WireObject, key: string, path: string): boolean {
  const value = o[key];
  if (typeof value !== 'boolean') throw new WireShapeError(`${path}.${key}`, 'a boolean', value);
  return value;
}

/**
 * A string field that is one of the keys of `members` (a `Record<Union, true>`, so every member is listed).
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readMember(o, 'period', 'details', { daily: true, monthly: true })
 */
export function readMember<T extends string>(
  o: WireObject,
  key: string,
  path: string,
  members: Readonly<Record<T, true>>,
): T {
  const value = o[key];
  if (typeof value !== 'string' || !Object.hasOwn(members, value)) {
    throw new WireShapeError(`${path}.${key}`, `one of ${Object.keys(members).join(', ')}`, value);
  }
  return value as T;
}

/**
 * A list field of at most {@link wireListLengthMax} items, each read by `item`.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readList(o, 'lots', 'body', decodeHoldLot)
 */
export function readList<T>(o: WireObject, key: string, path: string, item: (value: unknown, path: string) => T): T[] {
  const value = o[key];
  if (!Array.isArray(value) || value.length > wireListLengthMax) {
    throw new WireShapeError(`${path}.${key}`, `a list of at most ${wireListLengthMax} items`, value);
  }
  return value.map((entry, index) => item(entry, `${path}.${key}[${index}]`));
}

/**
 * A string list field.
 *
 * @throws {WireShapeError} when the field breaks that shape.
 * @example
 * readTextList(o, 'knownDimensions', 'details')
 */
export function readTextList(o: WireObject, key: string, path: string): string[] {
  return readList(o, key, path, (value, at) => {
    if (typeof value !== 'string') throw new WireShapeError(at, 'a string', value);
    return value;
  });
}
