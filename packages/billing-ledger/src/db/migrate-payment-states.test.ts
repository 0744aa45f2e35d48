/**
 * Migration 0008 (payment states) on a ledger that already sold packs: every payment recorded before it was credited
 * in the transaction that recorded it, so it becomes `credited` with the pack terms its stored result names, and the
 * upgraded ledger replays it and verifies clean.
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

const paymentStatesTag = '0008_payment_states';

let handle: TestLedgerDbHandle;
beforeAll(async () => {
  handle = await openTestLedgerDb({ migrate: false });
});
afterAll(() => handle?.close());

/** Applies the migrations before 0008 and records them as drizzle's migrator (and `migrateLedger`) does. */
async function migrateBeforePaymentStates(): Promise<void> {
  const all = readMigrationFiles({ migrationsFolder: ledgerMigrationsFolder() });
  const journal = JSON.parse(readFileSync(`${ledgerMigrationsFolder()}meta/_journal.json`, 'utf8')) as {
    entries: { tag: string }[];
  };
  const before = journal.entries.findIndex((entry) => entry.tag === paymentStatesTag);
  expect(before).toBe(8);
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

const createdAt = '2026-11-30T12:00:00.000Z';
const legacyResult = {
  lot: { id: 'lot_legacy', sourceType: 'purchase', sourceId: 'legacy:ref:1', originalMicro: 10_500_000n },
  pack: { id: 'standard', priceMicro: 10_000_000n, bonusBps: 500, lotTtlMs: 86_400_000, creditsMicro: 10_500_000n },
  payment: { id: 'pay_legacy', reference: 'legacy:ref:1', lotId: 'lot_legacy', settlement: { transaction: '0xold' } },
  replayed: false,
};

/** What the old `purchasePack` wrote in one transaction: the lot, its mint entry, the payment with its result. */
async function sellPackTheOldWay(): Promise<void> {
  await execRows(
    handle.db,
    sql`insert into accounts (id, entity_type, entity_id, created_at) values ('acc_legacy', 'user', 'legacy', ${createdAt})`,
  );
  await execRows(
    handle.db,
    sql`insert into lots (id, account_id, pool_id, source_type, source_id, original_micro, available_micro, expires_at, created_at)
      values ('lot_legacy', 'acc_legacy', 'general', 'purchase', 'legacy:ref:1', 10500000, 10500000,
        ${'2026-12-01T12:00:00.000Z'}, ${createdAt})`,
  );
  await execRows(
    handle.db,
    sql`insert into entries (account_id, lot_id, kind, amount_micro, from_bucket, to_bucket, available_after_micro, created_at)
      values ('acc_legacy', 'lot_legacy', 'mint', 10500000, 'external', 'available', 10500000, ${createdAt})`,
  );
  await execRows(
    handle.db,
    sql`insert into payments (id, reference, account_id, pack_id, payer, amount_micro, network, asset, lot_id, settlement,
        response, created_at)
      values ('pay_legacy', 'legacy:ref:1', 'acc_legacy', 'standard', '0xpayer', 10000000, 'eip155:8453', '0xusdc',
        'lot_legacy', ${JSON.stringify({ transaction: '0xold' })}::jsonb,
        ${JSON.stringify(encodeStored(legacyResult))}::jsonb, ${createdAt})`,
  );
}

describe('migration 0008 on a ledger that sold packs before it', () => {
  it('makes every recorded payment credited with its frozen terms; the upgraded ledger replays it and verifies', async () => {
    await migrateBeforePaymentStates();
    await sellPackTheOldWay();
    await migrateLedger(handle.db, handle.kind);
    const [row] = await execRows<Record<string, string | null>>(
      handle.db,
      sql`select status, price_micro::text as price, credits_micro::text as credits, bonus_bps::text as bps,
        lot_ttl_ms::text as ttl, "transaction", attempts::text as attempts, reconcile_after::text as due,
        (updated_at = created_at and credited_at = created_at)::text as stamped
      from payments where id = 'pay_legacy'`,
    );
    expect(row).toEqual({
      status: 'credited',
      price: '10000000',
      credits: '10500000',
      bps: '500',
      ttl: '86400000',
      transaction: '0xold',
      attempts: '0',
      due: null,
      stamped: 'true',
    });
    const clock = new ManualClock(Date.parse('2026-12-01T00:00:00.000Z'));
    const ledger = createLedger({ db: handle.db, clock });
    const replay = await ledger.claimPayment({
      accountId: 'acc_legacy',
      packId: 'standard',
      payment: { reference: 'legacy:ref:1', payer: '0xpayer', amountMicro: 10_000_000n, payTo: '0xnew' },
    });
    expect(replay).toMatchObject({ kind: 'credited', result: { ...legacyResult, replayed: true } });
    expect(await ledger.getPayment('pay_legacy')).toMatchObject({ status: 'credited', lotId: 'lot_legacy' });
    expect((await ledger.verify()).violations).toEqual([]);
  });
});
