/**
 * Input rules of revenue rule governance. Every check runs before any I/O and throws an `InvalidArgumentError`
 * that quotes the bad value.
 */
import { type RevenueRuleSchemaVersion, type RevenueRuleStatus, revenueRuleStatuses } from '../db/schema.js';
import { InvalidArgumentError, quoteValue } from '../errors.js';
import { checkFreeText } from '../ledger/validate.js';
import { ruleActorLengthMax, ruleNameLengthMax, ruleTextLengthMax } from '../limits.js';
import { bpsTotal } from '../money/index.js';
import type { ProposeRuleInput } from './types.js';

/** The actor the activation job records; no caller may act under it. */
export const systemActor = 'system';

// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters.
const controlPattern = /[\x00-\x1f\x7f]/;
/** Control characters other than tab and newline (free texts may span lines). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters.
const textControlPattern = /[\x00-\x08\x0b-\x1f\x7f]/;

function invalid(field: string, value: unknown, rule: string): InvalidArgumentError {
  return new InvalidArgumentError(`${field} ${quoteValue(value)} ${rule}`, {
    details: { field, value: quoteValue(value) },
  });
}

/**
 * An actor: the admin subject acting, 1–256 characters without control characters or lone UTF-16 surrogates, not
 * `system`.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertActor('alice');
 */
export function assertActor(value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > ruleActorLengthMax) {
    throw invalid('actor', value, `must be a string of 1–${ruleActorLengthMax} characters`);
  }
  if (controlPattern.test(value) || value.trim() !== value) {
    throw invalid('actor', value, 'must not contain control characters or surrounding spaces');
  }
  checkFreeText('actor', value);
  if (value === systemActor) throw invalid('actor', value, `is reserved for the ledger's own activation job`);
}

/**
 * A free text of 1 (or 0 when `optional`) to `max` characters without control characters other than newlines and
 * tabs, nor a lone UTF-16 surrogate ({@link checkFreeText}); a required one must not be blank.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertRuleText('reason', 'fee change approved by the board', { max: 1000 });
 */
export function assertRuleText(
  field: string,
  value: unknown,
  options: { max: number; optional?: boolean },
): asserts value is string {
  const min = options.optional ? 0 : 1;
  if (typeof value !== 'string' || value.length < min || value.length > options.max) {
    throw invalid(field, value, `must be a string of ${min}–${options.max} characters`);
  }
  if (textControlPattern.test(value)) throw invalid(field, value, 'must not contain control characters');
  checkFreeText(field, value);
  if (!options.optional && value.trim() === '') throw invalid(field, value, 'must not be blank');
}

/**
 * A rule status (for a filter).
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertRuleStatus('active');
 */
export function assertRuleStatus(value: unknown): asserts value is RevenueRuleStatus {
  if (typeof value !== 'string' || !(revenueRuleStatuses as readonly string[]).includes(value)) {
    throw invalid('status', value, `must be one of ${revenueRuleStatuses.join(', ')}`);
  }
}

/** A proposal's fields after validation (optional bps filled with 0, notes with null). */
export interface NormalizedProposal {
  name: string;
  schemaVersion: RevenueRuleSchemaVersion;
  commonsBps: number;
  communityBps: number;
  foundationBps: number;
  referrerBps: number;
  treasuryBps: number;
  notes: string | null;
  actor: string;
}

function bps(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > bpsTotal) {
    throw invalid(field, value, `must be an integer number of basis points from 0 to ${bpsTotal}`);
  }
  return value;
}

/**
 * Validates a proposal: bps integers 0–10 000 summing to exactly 10 000, `schemaVersion` 1 or 2, schema 1 with no
 * referrer or treasury share, a name, optional notes, an actor.
 *
 * @throws {InvalidArgumentError} naming the first field that breaks its rule.
 * @example
 * normalizeProposal({ name: 'q3', schemaVersion: 1, commonsBps: 500, communityBps: 7000, foundationBps: 2500, actor: 'alice' });
 */
export function normalizeProposal(input: ProposeRuleInput): NormalizedProposal {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalid('input', input, 'must be an object');
  }
  assertActor(input.actor);
  assertRuleText('name', input.name, { max: ruleNameLengthMax });
  if (/[\n\t]/.test(input.name)) throw invalid('name', input.name, 'must be one line');
  if (input.notes !== undefined) assertRuleText('notes', input.notes, { max: ruleTextLengthMax, optional: true });
  const schemaVersion: unknown = input.schemaVersion;
  if (schemaVersion !== 1 && schemaVersion !== 2) throw invalid('schemaVersion', schemaVersion, 'must be 1 or 2');
  const shares = {
    commonsBps: bps('commonsBps', input.commonsBps),
    communityBps: bps('communityBps', input.communityBps),
    foundationBps: bps('foundationBps', input.foundationBps),
    referrerBps: input.referrerBps === undefined ? 0 : bps('referrerBps', input.referrerBps),
    treasuryBps: input.treasuryBps === undefined ? 0 : bps('treasuryBps', input.treasuryBps),
  };
  if (schemaVersion === 1) {
    for (const field of ['referrerBps', 'treasuryBps'] as const) {
      if (shares[field] !== 0) {
        throw invalid(field, shares[field], 'must be 0 in a schema 1 rule (referrer and treasury need schema 2)');
      }
    }
  }
  const sum = Object.values(shares).reduce((total, part) => total + part, 0);
  if (sum !== bpsTotal) {
    throw new InvalidArgumentError(`the pool shares sum to ${sum} bps, not ${bpsTotal}`, {
      details: { field: 'bps', sum, expected: bpsTotal, ...shares },
    });
  }
  return {
    name: input.name,
    schemaVersion,
    ...shares,
    notes: input.notes === undefined || input.notes === '' ? null : input.notes,
    actor: input.actor,
  };
}
