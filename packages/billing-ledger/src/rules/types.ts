/**
 * The public shapes of revenue rule governance (DESIGN.md §3 "Revenue governance"): a rule, its audit trail, and
 * what each transition takes. Basis points are plain integers (10 000 bps = the whole charge).
 */
import type { RevenueRuleSchemaVersion, RevenueRuleStatus } from '../db/schema.js';

export type { RevenueRuleSchemaVersion, RevenueRuleStatus };

/**
 * A versioned revenue rule. Reads report it as of now: a `cooling_down` rule whose `activatesAt` has passed reads as
 * `active` (and the rule it replaces as `superseded`) even before the activation job has written it.
 */
export interface RevenueRule {
  id: string;
  /** Monotonic number given at proposal (the later proposal has the higher version). */
  version: number;
  /** 1: commons, community, foundation; 2: also referrer and treasury. */
  schemaVersion: RevenueRuleSchemaVersion;
  name: string;
  notes: string | null;
  status: RevenueRuleStatus;
  commonsBps: number;
  communityBps: number;
  /** The foundation also takes the rounding remainder of every split. */
  foundationBps: number;
  referrerBps: number;
  treasuryBps: number;
  proposedBy: string;
  submittedBy: string | null;
  submittedAt: Date | null;
  approvedBy: string | null;
  approvedAt: Date | null;
  rejectedBy: string | null;
  rejectedAt: Date | null;
  /** The admin who activated the rule before its cooldown ended, and why. */
  emergencyBy: string | null;
  emergencyReason: string | null;
  /** When the rule becomes (or became) active: approval + cooldown, or the emergency activation time. */
  activatesAt: Date | null;
  activatedAt: Date | null;
  supersededAt: Date | null;
  createdAt: Date;
}

/** One transition of a rule, as the append-only audit table recorded it. */
export interface RevenueRuleAuditEntry {
  id: bigint;
  ruleId: string;
  /** The admin subject, or `system` for the activation job (and the migration that seeded the first rule). */
  actor: string;
  /** `null` for the proposal (or the seeded rule). */
  fromStatus: RevenueRuleStatus | null;
  toStatus: RevenueRuleStatus;
  reason: string | null;
  /** When the transition took effect (an activation by the job: the end of the cooldown). */
  createdAt: Date;
}

/** Input of `proposeRule`. */
export interface ProposeRuleInput {
  /** 1–128 characters, no control characters. */
  name: string;
  schemaVersion: RevenueRuleSchemaVersion;
  commonsBps: number;
  communityBps: number;
  foundationBps: number;
  /** Schema 2 only (schema 1: absent or 0). */
  referrerBps?: number;
  /** Schema 2 only (schema 1: absent or 0). */
  treasuryBps?: number;
  /** At most 1 000 characters. */
  notes?: string;
  /** The admin proposing it (a token `sub`). */
  actor: string;
}

/** Input of `submitRule` and `approveRule`. */
export interface RuleActionInput {
  ruleId: string;
  actor: string;
}

/** Input of `rejectRule` and `activateRuleNow`: the reason is required (1–1 000 characters). */
export interface RuleReasonedActionInput extends RuleActionInput {
  reason: string;
}

/** Options of `listRules`. */
export interface ListRulesOptions {
  /** Only rules in this status as of now (read-time activation applies). */
  status?: RevenueRuleStatus;
  /** Page size, 1–200 (default 50). */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string | null;
}

/** Result of `activateDueRules`. */
export interface ActivateDueRulesResult {
  /** Rules the job moved from `cooling_down` to `active` (some may have been superseded in the same run). */
  activated: string[];
  /** Rules the job moved from `active` to `superseded`. */
  superseded: string[];
  /** The rule in force after the run. */
  activeRuleId: string;
}
