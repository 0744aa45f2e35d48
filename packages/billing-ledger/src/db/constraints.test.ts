import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import { execRows } from './ledger-db.js';
import { accounts, entries, lots } from './schema.js';

/** The driver error under drizzle's wrapper: SQLSTATE, constraint name and message. */
function pgError(error: unknown): { code: string; constraint: string | undefined; message: string } {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const e = current as Error & { code?: unknown; constraint?: string; constraint_name?: string };
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
      return { code: e.code, constraint: e.constraint ?? e.constraint_name, message: e.message };
    }
    current = e.cause;
  }
  throw new Error(`not a database error: ${String(error)}`);
}

async function rejection(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return pgError(error);
  }
  throw new Error('the statement was accepted');
}

const now = new Date('2030-01-01T00:00:00Z');

describe(`ledger schema guards on ${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  let handle: TestLedgerDbHandle;
  beforeAll(async () => {
    handle = await openTestLedgerDb();
    const { db } = handle;
    await db.insert(accounts).values({ id: 'acc_1', entityType: 'user', entityId: 'u1', createdAt: now });
    await db.insert(lots).values({
      id: 'lot_1',
      accountId: 'acc_1',
      sourceType: 'purchase',
      sourceId: 'pay_1',
      originalMicro: 1_000n,
      availableMicro: 1_000n,
      createdAt: now,
    });
    await db.insert(entries).values({
      accountId: 'acc_1',
      lotId: 'lot_1',
      kind: 'mint',
      amountMicro: 1_000n,
      fromBucket: 'external',
      toBucket: 'available',
      availableAfterMicro: 1_000n,
      createdAt: now,
    });
  });
  afterAll(() => handle?.close());

  it('has the four system accounts', async () => {
    const rows = await handle.db
      .select()
      .from(accounts)
      .where(sql`${accounts.entityType} = 'system'`)
      .orderBy(accounts.id);
    expect(rows.map((r) => [r.id, r.entityType, r.entityId, r.debtMicro])).toEqual([
      ['acc_system_commons', 'system', 'commons', 0n],
      ['acc_system_community', 'system', 'community', 0n],
      ['acc_system_foundation', 'system', 'foundation', 0n],
      ['acc_system_treasury', 'system', 'treasury', 0n],
    ]);
    for (const row of rows) expect(row.createdAt).toBeInstanceOf(Date);
  });

  it('rejects inserting a lot with a negative bucket', async () => {
    const error = await rejection(
      handle.db.insert(lots).values({
        id: 'lot_bad',
        accountId: 'acc_1',
        sourceType: 'grant',
        originalMicro: 100n,
        availableMicro: 150n,
        reservedMicro: -50n,
        createdAt: now,
      }),
    );
    expect(error.code).toBe('23514');
    expect(error.constraint).toBe('lots_buckets_nonnegative');
  });

  it('rejects inserting a lot whose buckets do not sum to the original', async () => {
    const error = await rejection(
      handle.db.insert(lots).values({
        id: 'lot_bad',
        accountId: 'acc_1',
        sourceType: 'grant',
        originalMicro: 100n,
        availableMicro: 99n,
        createdAt: now,
      }),
    );
    expect(error.code).toBe('23514');
    expect(error.constraint).toBe('lots_buckets_sum');
  });

  it('rejects a direct UPDATE that breaks the bucket identity or drives a bucket negative, and changes nothing', async () => {
    const sum = await rejection(
      execRows(handle.db, sql`update lots set available_micro = available_micro - 1 where id = 'lot_1'`),
    );
    expect(sum.code).toBe('23514');
    expect(sum.constraint).toBe('lots_buckets_sum');
    const negative = await rejection(
      execRows(
        handle.db,
        sql`update lots set available_micro = available_micro + 5, consumed_micro = consumed_micro - 5 where id = 'lot_1'`,
      ),
    );
    expect(negative.code).toBe('23514');
    expect(negative.constraint).toBe('lots_buckets_nonnegative');
    const original = await rejection(
      execRows(handle.db, sql`update lots set original_micro = 0, available_micro = 0 where id = 'lot_1'`),
    );
    expect(original.constraint).toBe('lots_original_positive');
    const [lot] = await handle.db.select().from(lots).where(sql`${lots.id} = 'lot_1'`);
    expect([lot?.originalMicro, lot?.availableMicro, lot?.consumedMicro]).toEqual([1_000n, 1_000n, 0n]);
  });

  it('accepts a direct UPDATE that moves value between buckets', async () => {
    await execRows(
      handle.db,
      sql`update lots set available_micro = available_micro - 10, reserved_micro = reserved_micro + 10 where id = 'lot_1'`,
    );
    await execRows(
      handle.db,
      sql`update lots set available_micro = available_micro + 10, reserved_micro = reserved_micro - 10 where id = 'lot_1'`,
    );
  });

  it('rejects UPDATE, DELETE and TRUNCATE of entries (append-only)', async () => {
    for (const statement of [
      sql`update entries set amount_micro = 5`,
      sql`update entries set memo = 'edited' where kind = 'mint'`,
      sql`delete from entries`,
      sql`truncate entries`,
    ]) {
      const error = await rejection(execRows(handle.db, statement));
      expect(error.code).toBe('23001');
      expect(error.message).toContain('entries are append-only');
    }
    const rows = await handle.db.select().from(entries);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.amountMicro).toBe(1_000n);
    expect(rows[0]?.memo).toBeNull();
  });

  it('rejects bad entries: non-positive amount, unknown kind or bucket, from = to', async () => {
    const base = `insert into entries (account_id, lot_id, kind, amount_micro, from_bucket, to_bucket, available_after_micro, created_at)`;
    const cases: Array<[string, string]> = [
      [`${base} values ('acc_1', 'lot_1', 'mint', 0, 'external', 'available', 0, now())`, 'entries_amount_positive'],
      [`${base} values ('acc_1', 'lot_1', 'gift', 1, 'external', 'available', 0, now())`, 'entries_kind_valid'],
      [`${base} values ('acc_1', 'lot_1', 'mint', 1, 'outside', 'available', 0, now())`, 'entries_from_bucket_valid'],
      [`${base} values ('acc_1', 'lot_1', 'mint', 1, 'external', 'spent', 0, now())`, 'entries_to_bucket_valid'],
      [`${base} values ('acc_1', 'lot_1', 'mint', 1, 'available', 'available', 0, now())`, 'entries_buckets_differ'],
    ];
    for (const [statement, constraint] of cases) {
      const error = await rejection(execRows(handle.db, sql.raw(statement)));
      expect(error.code).toBe('23514');
      expect(error.constraint).toBe(constraint);
    }
  });

  it('rejects a second lot minted from the same (source_type, source_id); lots without a source id do not collide', async () => {
    const error = await rejection(
      handle.db.insert(lots).values({
        id: 'lot_dup',
        accountId: 'acc_1',
        sourceType: 'purchase',
        sourceId: 'pay_1',
        originalMicro: 5n,
        availableMicro: 5n,
        createdAt: now,
      }),
    );
    expect(error.code).toBe('23505');
    expect(error.constraint).toBe('lots_source_uq');
    for (const id of ['lot_g1', 'lot_g2']) {
      await handle.db
        .insert(lots)
        .values({ id, accountId: 'acc_1', sourceType: 'grant', originalMicro: 5n, availableMicro: 5n, createdAt: now });
    }
    await handle.db.insert(lots).values({
      id: 'lot_other_type',
      accountId: 'acc_1',
      sourceType: 'x402',
      sourceId: 'pay_1',
      originalMicro: 5n,
      availableMicro: 5n,
      createdAt: now,
    });
    const seqs = (await handle.db.select({ seq: lots.seq }).from(lots).orderBy(lots.seq)).map((r) => r.seq);
    expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as bigint))).toBe(true);
  });

  it('rejects a second account for the same (entity_type, entity_id) and a negative debt', async () => {
    const duplicate = await rejection(
      handle.db.insert(accounts).values({ id: 'acc_2', entityType: 'user', entityId: 'u1', createdAt: now }),
    );
    expect([duplicate.code, duplicate.constraint]).toEqual(['23505', 'accounts_entity_uq']);
    const debt = await rejection(execRows(handle.db, sql`update accounts set debt_micro = -1 where id = 'acc_1'`));
    expect([debt.code, debt.constraint]).toEqual(['23514', 'accounts_debt_nonnegative']);
  });

  it('rejects reservations with a bad status, mode, amount, or resolved_at out of step with the status', async () => {
    const base = `insert into reservations (id, account_id, pool_id, amount_micro, status, billing_mode, expires_at, created_at, resolved_at)`;
    const cases: Array<[string, string]> = [
      [
        `${base} values ('r1', 'acc_1', 'general', 1, 'done', 'live', now(), now(), now())`,
        'reservations_status_valid',
      ],
      [
        `${base} values ('r1', 'acc_1', 'general', 1, 'pending', 'hard', now(), now(), null)`,
        'reservations_mode_valid',
      ],
      [
        `${base} values ('r1', 'acc_1', 'general', 0, 'pending', 'live', now(), now(), null)`,
        'reservations_amount_positive',
      ],
      [
        `${base} values ('r1', 'acc_1', 'general', 1, 'pending', 'live', now(), now(), now())`,
        'reservations_resolved_iff_terminal',
      ],
      [
        `${base} values ('r1', 'acc_1', 'general', 1, 'released', 'live', now(), now(), null)`,
        'reservations_resolved_iff_terminal',
      ],
    ];
    for (const [statement, constraint] of cases) {
      const error = await rejection(execRows(handle.db, sql.raw(statement)));
      expect(error.code).toBe('23514');
      expect(error.constraint).toBe(constraint);
    }
  });

  it('stores amounts beyond 2^53 exactly', async () => {
    const big = 2n ** 60n + 3n;
    await handle.db.insert(lots).values({
      id: 'lot_big',
      accountId: 'acc_1',
      sourceType: 'grant',
      originalMicro: big,
      availableMicro: big,
      createdAt: now,
    });
    const [lot] = await handle.db.select().from(lots).where(sql`${lots.id} = 'lot_big'`);
    expect(lot?.availableMicro).toBe(big);
    const [raw] = await execRows<{ available_micro: bigint }>(
      handle.db,
      sql`select available_micro from lots where id = 'lot_big'`,
    );
    expect(raw?.available_micro).toBe(big);
  });
});
