/**
 * Migration 0009 (payment kinds) on a ledger that already holds payments: every existing record becomes a `pack`
 * payment with its pack kept, `kind` has no default afterwards (a new record states it), and the CHECKs keep a
 * record's kind and terms consistent. The upgraded ledger replays a credited record, credits an open one, and
 * verifies clean.
 */
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeStored } from '../ledger/codec.js';
import { createLedger } from '../ledger/ledger.js';
import { ManualClock } from '../ports/clock.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import { execRows } from './ledger-db.js';
import { ledgerMigrationsFolder, migrateLedger } from './migrate.js';

const paymentKindTag = '0009_payment_credit_kind';
const createdAt = '2026-12-01T12:00:00.000Z';

let handle: TestLedgerDbHandle;
beforeAll(async () => {
  handle = await openTestLedgerDb({ migrate: false });
});
afterAll(() => handle?.close());

const run = (query: ReturnType<typeof sql>) => execRows(handle.db, query);

/** Applies the migrations before 0009 and records them as `migrateLedger` does. */
async function migrateBeforePaymentKinds(): Promise<void> {
  const all = readMigrationFiles({ migrationsFolder: ledgerMigrationsFolder() });
  const journal = JSON.parse(readFileSync(`${ledgerMigrationsFolder()}meta/_journal.json`, 'utf8')) as {
    entries: { tag: string }[];
  };
  const before = journal.entries.findIndex((entry) => entry.tag === paymentKindTag);
  expect(before).toBe(9);
  await handle.db.transaction(async (tx) => {
    await execRows(tx, sql`create schema if not exists drizzle`);
    await execRows(
      tx,
      sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
    );
    for (const migration of all.slice(0, before)) {
      for (const statement of migration.sql) if (statement.trim().length > 0) await execRows(tx, sql.raw(statement));
      await execRows(
        tx,
        sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`,
      );
    }
  });
}

/** The result a credited payment stored before 0009 (no `payment.kind`). */
const storedBefore = {
  lot: { id: 'lot_old', sourceType: 'purchase', sourceId: 'old:ref:1', originalMicro: 5_000_000n },
  pack: { id: 'starter', priceMicro: 5_000_000n, bonusBps: 0, lotTtlMs: null, creditsMicro: 5_000_000n },
  payment: { id: 'pay_old', reference: 'old:ref:1', packId: 'starter', lotId: 'lot_old', settlement: null },
  replayed: false,
};

/** What the 0008 ledger wrote: a credited payment with its lot and mint entry, and an open (verified) one. */
async function recordPaymentsBefore(): Promise<void> {
  await run(
    sql`insert into accounts (id, entity_type, entity_id, created_at) values ('acc_old', 'user', 'old', ${createdAt})`,
  );
  await run(sql`insert into lots (id, account_id, pool_id, source_type, source_id, original_micro, available_micro,
      created_at) values ('lot_old', 'acc_old', 'general', 'purchase', 'old:ref:1', 5000000, 5000000, ${createdAt})`);
  await run(sql`insert into entries (account_id, lot_id, kind, amount_micro, from_bucket, to_bucket,
      available_after_micro, created_at)
    values ('acc_old', 'lot_old', 'mint', 5000000, 'external', 'available', 5000000, ${createdAt})`);
  await run(sql`insert into payments (id, reference, account_id, pack_id, status, payer, amount_micro, price_micro,
      credits_micro, bonus_bps, lot_id, response, created_at, updated_at, credited_at)
    values ('pay_old', 'old:ref:1', 'acc_old', 'starter', 'credited', '0xpayer', 5000000, 5000000, 5000000, 0,
      'lot_old', ${JSON.stringify(encodeStored(storedBefore))}::jsonb, ${createdAt}, ${createdAt}, ${createdAt})`);
  await run(sql`insert into payments (id, reference, account_id, pack_id, status, payer, amount_micro, price_micro,
      credits_micro, bonus_bps, lot_ttl_ms, reconcile_after, created_at, updated_at)
    values ('pay_open', 'old:ref:2', 'acc_old', 'standard', 'verified', '0xpayer', 10000000, 10000000, 10500000, 500,
      86400000, ${createdAt}, ${createdAt}, ${createdAt})`);
}

/** The SQLSTATE and constraint of a statement the database refused (under drizzle's wrapper). */
async function refusal(promise: Promise<unknown>): Promise<{ code: string; constraint: string | undefined }> {
  try {
    await promise;
  } catch (error) {
    let current: unknown = error;
    for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
      const e = current as Error & { code?: unknown; constraint?: string; constraint_name?: string };
      if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
        return { code: e.code, constraint: e.constraint ?? e.constraint_name };
      }
      current = e.cause;
    }
    throw error;
  }
  throw new Error('the statement was accepted');
}

/** A verified payment row with `fields` (SQL fragments for kind, pack_id, price, credits, bonus, ttl). */
function insertPayment(
  id: string,
  fields: { kind: string | null; packId: string | null; terms: [number, number, number, number | null] },
) {
  const [price, credits, bps, ttl] = fields.terms;
  const kindColumn = fields.kind === null ? sql`` : sql`kind, `;
  const kindValue = fields.kind === null ? sql`` : sql`${fields.kind}, `;
  return run(sql`insert into payments (${kindColumn}id, reference, account_id, pack_id, status, payer, amount_micro,
      price_micro, credits_micro, bonus_bps, lot_ttl_ms, reconcile_after, created_at, updated_at)
    values (${kindValue}${id}, ${`check:${id}`}, 'acc_old', ${fields.packId}, 'verified', '0xpayer', 10000000,
      ${price}, ${credits}, ${bps}, ${ttl}, ${createdAt}, ${createdAt}, ${createdAt})`);
}

describe('migration 0009 on a ledger that holds payments before it', () => {
  it('makes every existing payment a pack payment; kind has no default; pack_id is nullable', async () => {
    await migrateBeforePaymentKinds();
    await recordPaymentsBefore();
    await migrateLedger(handle.db, handle.kind);
    const rows = await run(sql`select id, kind, pack_id from payments order by id`);
    expect(rows).toEqual([
      { id: 'pay_old', kind: 'pack', pack_id: 'starter' },
      { id: 'pay_open', kind: 'pack', pack_id: 'standard' },
    ]);
    const columns = await run(sql`select column_name, is_nullable, column_default from information_schema.columns
      where table_schema = 'public' and table_name = 'payments' and column_name in ('kind', 'pack_id')
      order by column_name`);
    expect(columns).toEqual([
      { column_name: 'kind', is_nullable: 'NO', column_default: null },
      { column_name: 'pack_id', is_nullable: 'YES', column_default: null },
    ]);
  });

  it('the upgraded ledger replays the credited payment (kind filled in), credits the open one, and verifies', async () => {
    const clock = new ManualClock(Date.parse(createdAt) + 1_000);
    const ledger = createLedger({ db: handle.db, clock });
    const replay = await ledger.claimPayment({
      accountId: 'acc_old',
      packId: 'starter',
      payment: { reference: 'old:ref:1', payer: '0xpayer', amountMicro: 5_000_000n },
    });
    expect(replay).toMatchObject({
      kind: 'credited',
      payment: { kind: 'pack', packId: 'starter' },
      result: { ...storedBefore, payment: { ...storedBefore.payment, kind: 'pack' }, replayed: true },
    });
    await expect(
      ledger.claimPayment({
        accountId: 'acc_old',
        creditMicro: 5_000_000n,
        payment: { reference: 'old:ref:1', payer: '0xpayer', amountMicro: 5_000_000n },
      }),
    ).rejects.toMatchObject({ code: 'payment_reference_reused', details: { conflict: 'pack', stored: 'starter' } });
    const credited = await ledger.creditPayment('old:ref:2', { transaction: '0xlate' });
    expect(credited).toMatchObject({
      lot: { originalMicro: 10_500_000n },
      pack: { id: 'standard', creditsMicro: 10_500_000n, bonusBps: 500 },
      payment: { kind: 'pack', packId: 'standard' },
    });
    expect((await ledger.verify()).violations).toEqual([]);
  });

  it('CHECKs keep kind and terms consistent: a kind, a pack iff kind pack, plain credit = price, no bonus, no ttl', async () => {
    const cases: [string, Parameters<typeof insertPayment>[1], string][] = [
      ['pay_c1', { kind: 'gift', packId: null, terms: [1, 1, 0, null] }, 'payments_kind_valid'],
      ['pay_c2', { kind: 'credit', packId: 'starter', terms: [1, 1, 0, null] }, 'payments_kind_terms'],
      ['pay_c3', { kind: 'pack', packId: null, terms: [1, 1, 0, null] }, 'payments_kind_terms'],
      ['pay_c4', { kind: 'credit', packId: null, terms: [100, 101, 0, null] }, 'payments_kind_terms'],
      ['pay_c5', { kind: 'credit', packId: null, terms: [100, 100, 100, null] }, 'payments_kind_terms'],
      ['pay_c6', { kind: 'credit', packId: null, terms: [100, 100, 0, 60_000] }, 'payments_kind_terms'],
    ];
    for (const [id, fields, constraint] of cases) {
      expect(await refusal(insertPayment(id, fields))).toEqual({ code: '23514', constraint });
    }
    const noKind = await refusal(insertPayment('pay_c7', { kind: null, packId: 'starter', terms: [1, 1, 0, null] }));
    expect(noKind.code).toBe('23502');
    await insertPayment('pay_ok1', { kind: 'credit', packId: null, terms: [100, 100, 0, null] });
    await insertPayment('pay_ok2', { kind: 'pack', packId: 'starter', terms: [100, 105, 500, 60_000] });
    const ids = await run(sql`select id from payments where id like 'pay_c%' or id like 'pay_ok%' order by id`);
    expect(ids).toEqual([{ id: 'pay_ok1' }, { id: 'pay_ok2' }]);
  });
});
