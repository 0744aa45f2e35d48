import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import { execRows, type LedgerDb } from './ledger-db.js';
import { ledgerMigrationsFolder, migrateLedger } from './migrate.js';
import { openPgliteLedgerDb } from './pglite.js';
import { openPostgresLedgerDb } from './postgres.js';

const databaseUrl = process.env.DATABASE_URL;

/**
 * Everything the migrations create in "public", as sorted text lines, comparable across PGlite and Postgres.
 * NOT NULL constraints (contype 'n', recorded in pg_constraint since Postgres 18, which PGlite embeds) are left out
 * of the constraint list; nullability is compared through information_schema.columns instead.
 */
async function schemaSnapshot(db: LedgerDb) {
  const columns = await execRows<Record<string, string>>(
    db,
    sql`select table_name, column_name, data_type, is_nullable, coalesce(column_default, '') as column_default,
               is_identity, coalesce(identity_generation, '') as identity_generation
        from information_schema.columns where table_schema = 'public' order by table_name, column_name`,
  );
  const constraints = await execRows<Record<string, string>>(
    db,
    sql`select c.conrelid::regclass::text as table_name, c.conname, c.contype::text as contype,
               pg_get_constraintdef(c.oid) as definition
        from pg_constraint c join pg_namespace n on n.oid = c.connamespace
        where n.nspname = 'public' and c.contype <> 'n' order by 1, 2`,
  );
  const indexes = await execRows<Record<string, string>>(
    db,
    sql`select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' order by 1, 2`,
  );
  const triggers = await execRows<Record<string, string>>(
    db,
    sql`select t.tgrelid::regclass::text as table_name, t.tgname, pg_get_triggerdef(t.oid) as definition
        from pg_trigger t where not t.tgisinternal order by 1, 2`,
  );
  const line = (row: Record<string, string>) => Object.values(row).join(' | ');
  return {
    columns: columns.map(line),
    constraints: constraints.map(line),
    indexes: indexes.map(line),
    triggers: triggers.map(line),
  };
}

const expectedTables = [
  'accounts',
  'distributions',
  'entries',
  'events',
  'idempotency_keys',
  'lots',
  'meters',
  'payments',
  'referral_attributions',
  'reservation_lots',
  'reservations',
  'revenue_rule_audit',
  'revenue_rules',
  'spend_caps',
];

/** Migrations committed in drizzle/meta/_journal.json. */
const migrationCount = 10n;

const expectedChecks = [
  'accounts_debt_nonnegative',
  'distributions_amount_positive',
  'distributions_kind_valid',
  'distributions_referrer_account',
  'distributions_reversal_shape',
  'distributions_shares_nonnegative',
  'distributions_shares_sum',
  'entries_amount_positive',
  'entries_available_after_iff_credit',
  'entries_buckets_differ',
  'entries_distribution_shape',
  'entries_from_bucket_valid',
  'entries_kind_valid',
  'entries_to_bucket_valid',
  'lots_buckets_nonnegative',
  'lots_buckets_sum',
  'lots_original_positive',
  'meters_hold_positive',
  'meters_hold_within_cap',
  'meters_mode_valid',
  'meters_prices_array',
  'meters_ttl_positive',
  'meters_version_positive',
  'payments_amount_covers_price',
  'payments_amount_positive',
  'payments_attempts_nonnegative',
  'payments_bonus_bps_range',
  'payments_credited_shape',
  'payments_failed_has_failure',
  'payments_failure_pair',
  'payments_kind_terms',
  'payments_kind_valid',
  'payments_lot_iff_credited',
  'payments_lot_ttl_positive',
  'payments_open_is_due',
  'payments_settled_has_transaction',
  'payments_status_valid',
  'payments_terms_positive',
  'payments_valid_before_nonnegative',
  'referral_not_self',
  'reservation_lots_amount_positive',
  'reservation_lots_position_nonnegative',
  'reservations_amount_positive',
  'reservations_finalize_amounts_nonnegative',
  'reservations_meter_pair',
  'reservations_mode_valid',
  'reservations_resolved_iff_terminal',
  'reservations_status_valid',
  'reservations_usage_metered',
  'revenue_rules_bps_range',
  'revenue_rules_bps_sum',
  'revenue_rules_emergency_distinct',
  'revenue_rules_four_eyes',
  'revenue_rules_schema1_fields',
  'revenue_rules_schema_valid',
  'revenue_rules_status_valid',
  'spend_caps_positive',
];

describe('migrateLedger on PGlite', () => {
  let handle: TestLedgerDbHandle;
  beforeAll(async () => {
    handle = await openTestLedgerDb({ databaseUrl: undefined, migrate: false });
  });
  afterAll(() => handle?.close());

  it('finds the committed migrations folder from the sources', () => {
    expect(ledgerMigrationsFolder()).toMatch(/billing-ledger\/drizzle\/$/);
  });

  it('migrates an empty database: every table, CHECK, unique index and the append-only trigger exist', async () => {
    const before = await schemaSnapshot(handle.db);
    expect(before.columns).toEqual([]);
    await migrateLedger(handle.db, handle.kind);
    const after = await schemaSnapshot(handle.db);
    const tables = [...new Set(after.columns.map((c) => c.split(' | ')[0]))].sort();
    expect(tables).toEqual(expectedTables);
    const checks = after.constraints.filter((c) => c.split(' | ')[2] === 'c').map((c) => c.split(' | ')[1]);
    expect(checks.sort()).toEqual(expectedChecks);
    expect(
      after.indexes.some((i) => i.includes('lots_source_uq') && /UNIQUE INDEX/.test(i) && /IS NOT NULL/.test(i)),
    ).toBe(true);
    // The journal's indexes: distribute entries (no lot) enter only the primary key and the account index.
    expect(after.indexes.filter((i) => i.startsWith('entries |')).map((i) => i.split(' | ')[1])).toEqual([
      'entries_account_id_idx',
      'entries_lot_idx',
      'entries_pkey',
    ]);
    expect(after.indexes.some((i) => i.includes('entries_lot_idx') && /WHERE \(lot_id IS NOT NULL\)/.test(i))).toBe(
      true,
    );
    expect(after.triggers.map((t) => t.split(' | ')[1]).sort()).toEqual([
      'distributions_append_only',
      'distributions_append_only_truncate',
      'entries_append_only',
      'entries_append_only_truncate',
      'meters_append_only',
      'meters_append_only_truncate',
      'revenue_rule_audit_append_only',
      'revenue_rule_audit_append_only_truncate',
    ]);
    const rules = await execRows<{ id: string; status: string }>(handle.db, sql`select id, status from revenue_rules`);
    expect(rules).toEqual([{ id: 'rule_initial', status: 'active' }]);
    const applied = await execRows<{ n: bigint }>(
      handle.db,
      sql`select count(*) as n from drizzle.__drizzle_migrations`,
    );
    expect(applied[0]?.n).toBe(migrationCount);
  });

  it('is a no-op when run again (nothing re-applied, no duplicate system accounts)', async () => {
    const before = await schemaSnapshot(handle.db);
    await migrateLedger(handle.db, handle.kind);
    await migrateLedger(handle.db);
    expect(await schemaSnapshot(handle.db)).toEqual(before);
    const applied = await execRows<{ n: bigint }>(
      handle.db,
      sql`select count(*) as n from drizzle.__drizzle_migrations`,
    );
    expect(applied[0]?.n).toBe(migrationCount);
    const system = await execRows<{ n: bigint }>(
      handle.db,
      sql`select count(*) as n from accounts where entity_type = 'system'`,
    );
    expect(system[0]?.n).toBe(4n);
  });
});

describe('openPgliteLedgerDb', () => {
  it('keeps data in a file store across reopen (creating the folder)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const root = mkdtempSync(join(tmpdir(), 'ledger-pglite-'));
    const dataDir = join(root, 'nested', 'store');
    try {
      const first = await openPgliteLedgerDb({ dataDir });
      await migrateLedger(first.db, first.kind);
      await execRows(
        first.db,
        sql`insert into accounts (id, entity_type, entity_id, created_at) values ('acc_x', 'user', 'x', now())`,
      );
      await first.close();
      const second = await openPgliteLedgerDb({ dataDir });
      await migrateLedger(second.db, second.kind);
      const rows = await execRows<{ id: string }>(second.db, sql`select id from accounts where id = 'acc_x'`);
      expect(rows).toEqual([{ id: 'acc_x' }]);
      await second.close();
      await second.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses an empty dataDir before any I/O', async () => {
    await expect(openPgliteLedgerDb({ dataDir: '' })).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describe('openPostgresLedgerDb options', () => {
  it('needs exactly one of url or sql, and a sane pool size', () => {
    expect(() => openPostgresLedgerDb({})).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => openPostgresLedgerDb({ url: 'mysql://x' })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    expect(() => openPostgresLedgerDb({ url: 'postgres://127.0.0.1/x', max: 0 })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });
});

describe.skipIf(!databaseUrl)('migrateLedger on Postgres (needs DATABASE_URL)', () => {
  let pg: TestLedgerDbHandle;
  let lite: TestLedgerDbHandle;
  beforeAll(async () => {
    pg = await openTestLedgerDb({ databaseUrl, migrate: false });
    lite = await openTestLedgerDb({ databaseUrl: undefined, migrate: false });
  });
  afterAll(async () => {
    await pg?.close();
    await lite?.close();
  });

  it('migrates both from empty to the same tables, columns, constraints, indexes and triggers', async () => {
    expect((await schemaSnapshot(pg.db)).columns).toEqual([]);
    // Several processes starting at once: the advisory lock makes them apply each migration once.
    await Promise.all([migrateLedger(pg.db, pg.kind), migrateLedger(pg.db, pg.kind), migrateLedger(pg.db)]);
    await migrateLedger(lite.db, lite.kind);
    const onPostgres = await schemaSnapshot(pg.db);
    const onPglite = await schemaSnapshot(lite.db);
    expect(onPostgres.columns.length).toBeGreaterThan(50);
    expect(onPostgres).toEqual(onPglite);
    const applied = await execRows<{ n: bigint }>(pg.db, sql`select count(*) as n from drizzle.__drizzle_migrations`);
    expect(applied[0]?.n).toBe(migrationCount);
  });

  it('reads int8 as bigint and keeps values past 2^53 exact through drizzle and raw SQL', async () => {
    const big = 2n ** 62n + 7n;
    const [row] = await execRows<{ v: bigint }>(pg.db, sql`select ${big}::bigint as v`);
    expect(row?.v).toBe(big);
    const [lr] = await execRows<{ v: bigint }>(lite.db, sql`select ${big}::bigint as v`);
    expect(lr?.v).toBe(big);
  });

  it('accepts a postgres.js client the caller owns and leaves it open on close()', async () => {
    const postgres = (await import('postgres')).default;
    const client = postgres(pg.databaseUrl as string, { max: 1, onnotice: () => {} });
    try {
      const handle = openPostgresLedgerDb({ sql: client });
      const [row] = await execRows<{ n: bigint }>(handle.db, sql`select count(*) as n from accounts`);
      expect(row?.n).toBe(4n);
      await handle.close();
      const [again] = await client`select 1 as one`;
      expect(again?.one).toBe(1);
    } finally {
      await client.end({ timeout: 5 });
    }
  });
});
