import { type SQL, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execRows, type LedgerDb } from '../db/ledger-db.js';
import { verifyViolationsMax } from '../limits.js';
import type { LedgerContext } from './context.js';
import { type LedgerKit, openLedgerKit } from './test-kit.js';
import { verify } from './verify.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

describe('verify', () => {
  it('is clean after every kind of operation', async () => {
    const { ledger, clock } = kit;
    const accountId = await kit.account();
    const other = await kit.account();
    expect(await ledger.verify()).toMatchObject({ ok: true, violations: [] });
    const expiring = await ledger.mint({
      accountId,
      amountMicro: 500n,
      sourceType: 'grant',
      expiresAt: new Date(clock.nowMs() + 10_000),
    });
    const paid = await ledger.mint({ accountId, amountMicro: 2_000n, sourceType: 'deposit', sourceId: 'v-1' });
    await ledger.mint({
      accountId,
      amountMicro: 40n,
      sourceType: 'grant',
      poolId: 'audio',
      expiresAt: new Date(clock.nowMs() + 5_000),
    });
    await ledger.mint({ accountId, amountMicro: 300n, sourceType: 'grant', poolId: 'gpu' });
    await ledger.mint({ accountId: other, amountMicro: 50n, sourceType: 'grant' });
    for (const [mode, cost] of [
      ['live', 50n],
      ['live', 700n],
      ['soft', 900n],
      ['shadow', 100n],
    ] as const) {
      const { reservation } = await ledger.reserve({ accountId, amountMicro: 600n, billingMode: mode, poolId: 'gpu' });
      await ledger.finalize({ reservationId: reservation.id, actualCostMicro: cost });
    }
    const released = await ledger.reserve({ accountId, amountMicro: 10n });
    await ledger.release({ reservationId: released.reservation.id });
    await ledger.reserve({ accountId, amountMicro: 10n, ttlMs: 1_000 });
    await ledger.reserve({ accountId: other, amountMicro: 20n, ttlMs: 60_000 });
    clock.advance(10_000);
    expect(await ledger.sweepExpiredHolds()).toEqual({ count: 1, amountMicro: 10n });
    expect(await ledger.sweepExpiredLots()).toEqual({ count: 1, amountMicro: 40n });
    expect(await ledger.refund({ lotId: paid.lot.id })).toMatchObject({ refundedMicro: 1_250n, debtAddedMicro: 750n });
    expect((await ledger.mint({ accountId, amountMicro: 5n, sourceType: 'grant' })).balance.debtMicro).toBe(745n);
    // A pack bought, and a payment claimed, settled and left uncredited (a reconciler's job): both are clean.
    const buyer = await kit.account();
    const pay = (reference: string) => ({ reference, payer: '0xpayer', amountMicro: 5_000_000n });
    await ledger.purchasePack({ accountId: buyer, packId: 'starter', payment: pay('v-pack-1') });
    await ledger.claimPayment({ accountId: buyer, packId: 'starter', payment: pay('v-pack-2') });
    await ledger.markPaymentSettling('v-pack-2');
    await ledger.recordPaymentSettlement('v-pack-2', { transaction: '0xv2' });
    const report = await ledger.verify();
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts).toMatchObject({ lots: 7, reservations: 7, payments: 2 });
    expect(report.counts.accounts).toBeGreaterThanOrEqual(6);
    expect(report.counts.entries).toBeGreaterThan(20);
    expect(report.checkedAt).toEqual(new Date(clock.nowMs()));
    expect(
      (await ledger.listLots(accountId, { includeEmpty: true })).find((l) => l.id === expiring.lot.id),
    ).toMatchObject({ availableMicro: 0n });
  });

  it('detects a lot whose buckets do not match its entries, and a hand-edited lot', async () => {
    const accountId = await kit.account();
    // A row that passes every CHECK but has no journal behind it.
    await kit.handle.db.execute(sql`insert into lots (id, account_id, pool_id, source_type, original_micro, available_micro, created_at)
      values ('lot_forged', ${accountId}, 'general', 'grant', 1000, 1000, now())`);
    const forged = await kit.ledger.verify();
    expect(forged.ok).toBe(false);
    expect(forged.violations.map((v) => [v.rule, v.subjectId])).toEqual(
      expect.arrayContaining([
        ['lot_replay_mismatch', 'lot_forged'],
        ['lot_mint_mismatch', 'lot_forged'],
      ]),
    );
    const { lot } = await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    // Moving credit between buckets without an entry keeps the bucket identity (CHECK passes) but breaks the replay.
    await kit.handle.db.execute(sql`update lots set available_micro = 90, consumed_micro = 10 where id = ${lot.id}`);
    const edited = await kit.ledger.verify();
    expect(edited.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          rule: 'lot_replay_mismatch',
          subjectId: lot.id,
          details: { bucket: 'available', storedMicro: '90', replayedMicro: '100' },
        }),
      ]),
    );
    await kit.handle.db.execute(sql`update accounts set debt_micro = 7 where id = ${accountId}`);
    const indebted = await kit.ledger.verify();
    expect(indebted.violations.map((v) => [v.rule, v.subjectId])).toContainEqual(['account_debt_mismatch', accountId]);
  });
});

/** Every rule `verify` reports (besides `report_truncated`); the catalogue below plants a breach of each. */
const verifyRules = [
  'lot_account_missing',
  'lot_bucket_negative',
  'lot_bucket_sum',
  'lot_reserved_mismatch',
  'lot_replay_mismatch',
  'lot_mint_mismatch',
  'entry_amount_invalid',
  'entry_move_illegal',
  'entry_reservation_missing',
  'entry_reservation_unexpected',
  'entry_available_after_invalid',
  'entry_lot_missing',
  'entry_account_mismatch',
  'entry_overdraws_bucket',
  'available_after_mismatch',
  'distribution_entry_invalid',
  'reservation_lots_positions',
  'reservation_lot_foreign',
  'reservation_lots_sum',
  'reservation_entries_mismatch',
  'reservation_charged_mismatch',
  'reservation_outcome_invalid',
  'distribution_missing',
  'distribution_shares_sum',
  'distribution_share_negative',
  'distribution_entries_mismatch',
  'distribution_rule_mismatch',
  'distribution_reservation_invalid',
  'distribution_duplicate',
  'distribution_amount_mismatch',
  'distribution_reversal_invalid',
  'distribution_over_reversed',
  'account_debt_negative',
  'account_debt_mismatch',
  'event_payload_invalid',
  'metered_charge_mismatch',
  'metered_hold_version_missing',
  'metered_usage_malformed',
  'metered_usage_unpriceable',
  'purchase_lot_without_payment',
  'purchase_lot_payment_not_credited',
  'purchase_lot_payment_mismatch',
  'purchase_lot_credits_mismatch',
  'payment_lot_without_credit',
  'credited_payment_without_lot',
  'credited_payment_lot_mismatch',
];

/** A clean ledger with every kind of row: holds in each state, charges, a refund with its reversal, metered holds. */
async function seedLedger(kit: LedgerKit) {
  const { ledger, clock } = kit;
  const [a, b, c, e] = [await kit.account(), await kit.account(), await kit.account(), await kit.account()];
  const lotA = (await ledger.mint({ accountId: a, amountMicro: 1000n, sourceType: 'grant' })).lot.id;
  const lotB = (await ledger.mint({ accountId: b, amountMicro: 500n, sourceType: 'grant' })).lot.id;
  const hold = async (accountId: string, amountMicro: bigint) =>
    (await ledger.reserve({ accountId, amountMicro })).reservation.id;
  const charge = async (reservationId: string, actualCostMicro: bigint) =>
    (await ledger.finalize({ reservationId, actualCostMicro })).distribution?.id as string;
  const f = await hold(a, 100n);
  const dF = await charge(f, 60n);
  const r = await hold(a, 50n);
  await ledger.release({ reservationId: r });
  const p = await hold(a, 30n);
  const q = await hold(b, 20n);
  const dQ = await charge(q, 10n);
  await ledger.mint({
    accountId: e,
    amountMicro: 100n,
    sourceType: 'grant',
    expiresAt: new Date(clock.nowMs() + 1000),
  });
  const lotE2 = (await ledger.mint({ accountId: e, amountMicro: 50n, sourceType: 'grant' })).lot.id;
  clock.advance(2000);
  await ledger.mint({ accountId: e, amountMicro: 5n, sourceType: 'grant' }); // available after: 55, not 155
  const lotC = (await ledger.mint({ accountId: c, amountMicro: 200n, sourceType: 'deposit', sourceId: 'v-c' })).lot.id;
  const h = await hold(c, 100n);
  const dC = await charge(h, 80n);
  await ledger.refund({ lotId: lotC });
  await ledger.createMeter({
    id: 'verify-m',
    holdMicro: 10n,
    createdBy: 'alice',
    unitPrices: [{ dimension: 'request', priceMicro: 5n, perUnits: 1n }],
  });
  const metered: { id: string; distributionId: string }[] = [];
  for (let i = 0; i < 4; i += 1) {
    const { reservation } = await ledger.reserve({ accountId: a, meterId: 'verify-m' });
    const done = await ledger.finalize({ reservationId: reservation.id, usage: { request: 1 } });
    metered.push({ id: reservation.id, distributionId: done.distribution?.id as string });
  }
  const g = await kit.account();
  const purchases: { paymentId: string; lotId: string; reference: string }[] = [];
  for (let i = 0; i < 4; i += 1) {
    const reference = `verify:pack:${i}`;
    const { payment, lot } = await ledger.purchasePack({
      accountId: g,
      packId: 'starter',
      payment: { reference, payer: '0xpayer', amountMicro: 5_000_000n },
    });
    purchases.push({ paymentId: payment.id, lotId: lot.id, reference });
  }
  await ledger.claimPayment({
    accountId: g,
    packId: 'starter',
    payment: { reference: 'verify:pack:claimed', payer: '0xpayer', amountMicro: 5_000_000n },
  });
  return { a, b, c, e, lotA, lotB, lotC, lotE2, f, r, p, q, h, dF, dQ, dC, metered, g, purchases };
}

type Seed = Awaited<ReturnType<typeof seedLedger>>;
const forgedAt = sql.raw("timestamptz '2026-06-01T00:00:00Z'");

/** Inserts a journal row (the append-only trigger only refuses updates) and answers its subject (`entry:<id>`). */
async function forgeEntry(tx: LedgerDb, row: Record<string, unknown>): Promise<string> {
  const v: Record<string, unknown> = {
    lot_id: null,
    reservation_id: null,
    available_after_micro: 0,
    distribution_id: null,
    rule_id: null,
    ...row,
  };
  const [inserted] = await execRows<{ id: string }>(
    tx,
    sql`insert into entries (account_id, lot_id, reservation_id, kind, amount_micro, from_bucket, to_bucket,
      available_after_micro, distribution_id, rule_id, rule_version, rule_schema_version, memo, created_at)
    values (${v.account_id}, ${v.lot_id}, ${v.reservation_id}, ${v.kind}, ${v.amount_micro}, ${v.from_bucket},
      ${v.to_bucket}, ${v.available_after_micro}, ${v.distribution_id}, ${v.rule_id}, ${v.rule_id === null ? null : 1},
      ${v.rule_id === null ? null : 1}, ${v.memo ?? null}, ${forgedAt}) returning id::text as id`,
  );
  return `entry:${inserted?.id}`;
}

/** Breaks every rule once (triggers and foreign keys off, the CHECKs in the way dropped); answers what must be found. */
async function corrupt(kit: LedgerKit, s: Seed): Promise<[string, string][]> {
  const [{ id: eAfter } = { id: '' }] = await kit.rows<{ id: string }>(
    sql`select id::text as id from entries where account_id = ${s.e} order by id desc limit 1`,
  );
  const [m1, m2, m3, m4] = s.metered;
  return kit.handle.db.transaction(async (tx) => {
    const run = (query: SQL) => execRows(tx, query);
    await run(sql`set local session_replication_role = replica`);
    for (const [table, constraint] of [
      ['lots', 'lots_buckets_nonnegative'],
      ['lots', 'lots_buckets_sum'],
      ['entries', 'entries_amount_positive'],
      ['entries', 'entries_available_after_iff_credit'],
      ['distributions', 'distributions_shares_sum'],
      ['distributions', 'distributions_shares_nonnegative'],
      ['accounts', 'accounts_debt_nonnegative'],
      ['payments', 'payments_credited_shape'],
      ['payments', 'payments_lot_iff_credited'],
    ]) {
      await run(sql.raw(`alter table ${table} drop constraint ${constraint}`));
    }
    await run(sql`drop index distributions_charge_uq`);
    const onA = { account_id: s.a, lot_id: s.lotA };
    const found: [string, string][] = [];
    const expectEntry = async (rule: string, row: Record<string, unknown>) => {
      found.push([rule, await forgeEntry(tx, row)]);
    };
    await run(sql`insert into lots (id, account_id, pool_id, source_type, original_micro, available_micro, created_at)
      values ('lot_orphan', 'acc_ghost', 'general', 'grant', 10, 10, ${forgedAt})`);
    found.push(['lot_account_missing', 'lot_orphan'], ['lot_mint_mismatch', 'lot_orphan']);
    await run(sql`update lots set available_micro = -5 where id = ${s.lotB}`);
    found.push(['lot_bucket_negative', s.lotB], ['lot_bucket_sum', s.lotB], ['lot_replay_mismatch', s.lotB]);
    await run(sql`update lots set reserved_micro = reserved_micro + 7, available_micro = available_micro - 7
      where id = ${s.lotA}`);
    found.push(['lot_reserved_mismatch', s.lotA]);
    const expireA = { ...onA, kind: 'expire_lot', from_bucket: 'available', to_bucket: 'expired' };
    await expectEntry('entry_amount_invalid', { ...expireA, amount_micro: 0 });
    await expectEntry('entry_move_illegal', { ...expireA, kind: 'refund', amount_micro: 1 });
    await expectEntry('entry_reservation_missing', {
      ...onA,
      kind: 'reserve',
      amount_micro: 1,
      from_bucket: 'available',
      to_bucket: 'reserved',
    });
    await expectEntry('entry_reservation_unexpected', {
      ...onA,
      reservation_id: s.f,
      kind: 'mint',
      amount_micro: 1,
      from_bucket: 'external',
      to_bucket: 'available',
    });
    await expectEntry('entry_available_after_invalid', { ...expireA, amount_micro: 1, available_after_micro: null });
    await expectEntry('entry_lot_missing', {
      account_id: s.a,
      kind: 'adjust',
      amount_micro: 1,
      from_bucket: 'available',
      to_bucket: 'consumed',
    });
    await expectEntry('entry_lot_missing', {
      account_id: s.a,
      lot_id: 'lot_ghost',
      kind: 'adjust',
      amount_micro: 1,
      from_bucket: 'available',
      to_bucket: 'consumed',
    });
    await expectEntry('entry_account_mismatch', {
      account_id: s.b,
      lot_id: s.lotA,
      kind: 'adjust',
      amount_micro: 1,
      from_bucket: 'available',
      to_bucket: 'consumed',
    });
    await expectEntry('entry_move_illegal', {
      ...onA,
      reservation_id: s.f,
      kind: 'consume',
      amount_micro: 1,
      from_bucket: 'consumed',
      to_bucket: 'revenue',
    });
    await expectEntry('entry_reservation_missing', {
      ...onA,
      reservation_id: s.q,
      kind: 'release',
      amount_micro: 1,
      from_bucket: 'reserved',
      to_bucket: 'available',
    });
    await expectEntry('entry_overdraws_bucket', {
      account_id: s.b,
      lot_id: s.lotB,
      kind: 'refund',
      amount_micro: 1_000_000,
      from_bucket: 'available',
      to_bucket: 'refunded',
    });
    await run(sql`update entries set available_after_micro = 155 where id = ${eAfter}`);
    found.push(['available_after_mismatch', `entry:${eAfter}`]);
    const distribute = {
      kind: 'distribute',
      amount_micro: 1,
      from_bucket: 'consumed',
      to_bucket: 'revenue',
      available_after_micro: null,
      rule_id: 'rule_initial',
      memo: 'commons',
    };
    await expectEntry('distribution_entry_invalid', {
      ...distribute,
      account_id: 'acc_system_commons',
      reservation_id: s.f,
      distribution_id: 'dst_ghost',
    });
    await expectEntry('distribution_entry_invalid', {
      ...distribute,
      account_id: 'acc_system_treasury',
      reservation_id: s.f,
      distribution_id: s.dF,
    });
    await corruptHolds(tx, s, found);
    await corruptDistributions(tx, s, found);
    await run(sql`update accounts set debt_micro = -2 where id = ${s.b}`);
    found.push(['account_debt_negative', s.b], ['account_debt_mismatch', s.b]);
    await run(sql`insert into events (type, account_id, subject_id, payload, created_at)
      values ('lot.refunded', null, 'lot_event', '{}'::jsonb, ${forgedAt})`);
    found.push(['event_payload_invalid', 'lot_event']);
    await run(sql`update reservations set usage = '{"request":"2"}'::jsonb where id = ${m1?.id}`);
    await run(sql`update reservations set meter_version = 99 where id = ${m2?.id}`);
    await run(sql`update reservations set usage = '{"request":1}'::jsonb where id = ${m3?.id}`);
    await run(sql`update reservations set usage = '{"tokens":"1"}'::jsonb where id = ${m4?.id}`);
    found.push(
      ['metered_charge_mismatch', m1?.id as string],
      ['metered_hold_version_missing', m2?.id as string],
      ['metered_usage_malformed', m3?.id as string],
      ['metered_usage_unpriceable', m4?.id as string],
    );
    await corruptPayments(tx, s, found);
    return found;
  });
}

async function corruptPayments(tx: LedgerDb, s: Seed, found: [string, string][]): Promise<void> {
  const run = (query: SQL) => execRows(tx, query);
  type Purchase = Seed['purchases'][number];
  const [pA, pB, pC, pD] = [0, 1, 2, 3].map((i) => s.purchases[i] as Purchase) as [
    Purchase,
    Purchase,
    Purchase,
    Purchase,
  ];
  await run(sql`insert into lots (id, account_id, pool_id, source_type, source_id, original_micro, available_micro,
      created_at) values ('lot_bought_elsewhere', ${s.g}, 'general', 'purchase', 'verify:nowhere', 10, 10, ${forgedAt})`);
  found.push(['purchase_lot_without_payment', 'lot_bought_elsewhere']);
  await run(sql`update payments set credits_micro = credits_micro + 1 where id = ${pA.paymentId}`);
  found.push(['purchase_lot_credits_mismatch', pA.lotId]);
  await run(sql`update payments set reference = 'verify:pack:renamed' where id = ${pB.paymentId}`);
  found.push(['purchase_lot_payment_mismatch', pB.lotId]);
  found.push(['credited_payment_lot_mismatch', pB.paymentId]);
  await run(sql`update payments set status = 'settled', "transaction" = '0x1', reconcile_after = ${forgedAt}
    where id = ${pC.paymentId}`);
  found.push(['purchase_lot_payment_not_credited', pC.lotId]);
  found.push(['payment_lot_without_credit', pC.paymentId]);
  await run(sql`update payments set lot_id = 'lot_ghost' where id = ${pD.paymentId}`);
  found.push(['credited_payment_without_lot', pD.paymentId]);
  found.push(['purchase_lot_without_payment', pD.lotId]);
}

async function corruptHolds(tx: LedgerDb, s: Seed, found: [string, string][]): Promise<void> {
  const run = (query: SQL) => execRows(tx, query);
  await run(sql`update reservation_lots set position = 3 where reservation_id = ${s.r}`);
  found.push(['reservation_lots_positions', s.r]);
  await run(
    sql`insert into reservation_lots (reservation_id, lot_id, position, amount_micro) values (${s.p}, ${s.lotB}, 1, 5)`,
  );
  found.push(['reservation_lot_foreign', s.p], ['reservation_lots_sum', s.p], ['lot_reserved_mismatch', s.lotB]);
  const release = { kind: 'release', amount_micro: 1, from_bucket: 'reserved', to_bucket: 'available' };
  await forgeEntry(tx, { ...release, account_id: s.a, lot_id: s.lotE2, reservation_id: s.r });
  found.push(['reservation_entries_mismatch', s.r]);
  await run(sql`update reservations set charged_micro = 61 where id = ${s.f}`);
  found.push(['reservation_charged_mismatch', s.f], ['distribution_amount_mismatch', s.dF]);
  await run(sql`update reservations set actual_cost_micro = 1 where id = ${s.r}`);
  found.push(['reservation_outcome_invalid', s.r]);
  await run(sql`insert into reservations (id, account_id, pool_id, amount_micro, status, billing_mode, expires_at,
      created_at, resolved_at, actual_cost_micro, charged_micro, overrun_micro, uncollected_micro)
    values ('res_forged', ${s.a}, 'general', 10, 'finalized', 'live', ${forgedAt}, ${forgedAt}, ${forgedAt}, 10, 10, 0, 0)`);
  found.push(['distribution_missing', 'res_forged']);
}

const distributionColumns = `kind, reservation_id, account_id, reverses_id, lot_id, amount_micro, rule_id, rule_version,
  rule_schema_version, commons_micro, community_micro, foundation_micro, referrer_micro, treasury_micro,
  referrer_account_id`;

async function corruptDistributions(tx: LedgerDb, s: Seed, found: [string, string][]): Promise<void> {
  const run = (query: SQL) => execRows(tx, query);
  const [dM1, dM2, dM3] = s.metered.map((m) => m.distributionId);
  await run(sql`update distributions set commons_micro = commons_micro + 1 where id = ${s.dQ}`);
  found.push(['distribution_shares_sum', s.dQ], ['distribution_entries_mismatch', s.dQ]);
  await run(sql`update distributions set commons_micro = -1, community_micro = community_micro + commons_micro + 1
    where id = ${dM1}`);
  found.push(['distribution_share_negative', dM1 as string]);
  await run(sql`update distributions set rule_version = 99 where id = ${dM2}`);
  found.push(['distribution_rule_mismatch', dM2 as string]);
  await run(sql`update distributions set account_id = ${s.b} where id = ${dM3}`);
  found.push(['distribution_reservation_invalid', dM3 as string]);
  const copy = (id: string, from: string, reversesId?: string) =>
    run(sql`insert into distributions (id, created_at, ${sql.raw(distributionColumns)})
      select ${id}, ${forgedAt}, ${sql.raw(distributionColumns.replace('reverses_id', reversesId === undefined ? 'reverses_id' : `'${reversesId}'`))}
      from distributions where id = ${from}`);
  await copy('dst_dup', s.dF);
  found.push(['distribution_duplicate', 'dst_dup']);
  const [reversal] = await execRows<{ id: string }>(tx, sql`select id from distributions where reverses_id = ${s.dC}`);
  await copy('dst_bad_reversal', reversal?.id as string, 'dst_ghost');
  await copy('dst_second_reversal', reversal?.id as string);
  found.push(['distribution_reversal_invalid', 'dst_bad_reversal'], ['distribution_over_reversed', s.dC]);
}

describe('verify on a corrupted ledger', () => {
  it('reports a breach of every rule, the same at every page size (a page of 1 row, of 2, of the default)', async () => {
    const corrupted = await openLedgerKit();
    try {
      const seed = await seedLedger(corrupted);
      expect((await corrupted.ledger.verify()).violations).toEqual([]);
      for (const pageSizeMax of [1, 2]) {
        expect(await verify(contextOf(corrupted), { pageSizeMax })).toEqual(await corrupted.ledger.verify());
      }
      const expected = await corrupt(corrupted, seed);
      const report = await corrupted.ledger.verify();
      const pairs = report.violations.map((v) => [v.rule, v.subjectId]);
      const found = (rule: string, subjectId: string) => pairs.some(([r, id]) => r === rule && id === subjectId);
      expect(expected.filter(([rule, subjectId]) => !found(rule, subjectId))).toEqual([]);
      expect(verifyRules.filter((rule) => !pairs.some(([seen]) => seen === rule))).toEqual([]);
      expect(report.violations.length).toBeLessThan(verifyViolationsMax);
      for (const pageSizeMax of [1, 2]) expect(await verify(contextOf(corrupted), { pageSizeMax })).toEqual(report);
    } finally {
      await corrupted.close();
    }
  });

  it(`lists ${verifyViolationsMax} violations and then says the report was cut`, async () => {
    const flooded = await openLedgerKit();
    try {
      const accountId = await flooded.account();
      const { lot } = await flooded.ledger.mint({ accountId, amountMicro: 5000n, sourceType: 'grant' });
      // Entries whose recorded balance never matches the replay: one violation each.
      await execRows(
        flooded.handle.db,
        sql`insert into entries (account_id, lot_id, kind, amount_micro, from_bucket,
          to_bucket, available_after_micro, created_at)
        select ${accountId}, ${lot.id}, 'expire_lot', 1, 'available', 'expired', 1, ${forgedAt}
        from generate_series(1, ${verifyViolationsMax + 5})`,
      );
      const report = await flooded.ledger.verify();
      expect(report.violations).toHaveLength(verifyViolationsMax + 1);
      expect(report.violations.at(-1)).toMatchObject({ rule: 'report_truncated', subjectId: '*' });
      expect(report.counts.entries).toBe(verifyViolationsMax + 6);
    } finally {
      await flooded.close();
    }
  });
});

/** The context `verify` reads (the database and the clock) of a kit's ledger. */
const contextOf = (kit: LedgerKit) => ({ db: kit.handle.db, clock: kit.clock }) as unknown as LedgerContext;
