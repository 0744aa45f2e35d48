/**
 * Test support for the ledger's own tests (not exported from the package): a fresh migrated database
 * (PGlite in memory, or a fresh Postgres database when DATABASE_URL is set), a manual clock, a ledger and
 * helpers to create accounts and read rows directly.
 */
import { randomBytes } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import { ManualClock } from '../ports/clock.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import type { CreateLedgerOptions, Ledger } from './ledger.js';
import { createLedger } from './ledger.js';

export interface LedgerKit {
  handle: TestLedgerDbHandle;
  clock: ManualClock;
  ledger: Ledger;
  /** Creates a fresh account and returns its id. */
  account(): Promise<string>;
  /** Rows of a raw query. */
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>;
  /** Row counts of the tables a write changes, to prove a failed write changed nothing. */
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** Opens a kit; pass ledger options (except db and clock) to override defaults. */
export async function openLedgerKit(options: Omit<CreateLedgerOptions, 'db' | 'clock'> = {}): Promise<LedgerKit> {
  const handle = await openTestLedgerDb();
  const clock = new ManualClock();
  const ledger = createLedger({ ...options, db: handle.db, clock });
  const prefix = randomBytes(4).toString('hex');
  let next = 0;
  return {
    handle,
    clock,
    ledger,
    async account() {
      next += 1;
      const { account } = await ledger.createAccount({ entityType: 'user', entityId: `${prefix}-${next}` });
      return account.id;
    },
    rows: (query) => execRows(handle.db, query),
    async counts() {
      const [row] = await execRows<Record<string, bigint>>(
        handle.db,
        sql`select (select count(*) from lots) as lots, (select count(*) from reservations) as reservations,
          (select count(*) from reservation_lots) as reservation_lots, (select count(*) from entries) as entries,
          (select count(*) from events) as events, (select count(*) from idempotency_keys) as idempotency_keys,
          (select count(*) from payments) as payments,
          (select coalesce(sum(available_micro), 0) from lots) as available,
          (select coalesce(sum(reserved_micro), 0) from lots) as reserved,
          (select coalesce(sum(debt_micro), 0) from accounts) as debt`,
      );
      return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
    },
    close: () => handle.close(),
  };
}

/** Expects `promise` to reject with a LedgerError-like error of `code`; returns the error. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<Error & { code: string }> {
  try {
    await promise;
  } catch (error) {
    if ((error as { code?: unknown }).code !== code) {
      throw new Error(`expected code ${code}, got ${(error as { code?: unknown }).code}: ${(error as Error).message}`);
    }
    return error as Error & { code: string };
  }
  throw new Error(`expected a rejection with code ${code}, but it resolved`);
}
