import type { PGlite } from '@electric-sql/pglite';
import { eq, sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerInvariantError } from '../ledger/assert.js';
import { type LedgerContext, runWrite } from '../ledger/context.js';
import { createLedger } from '../ledger/ledger.js';
import { type LedgerKit, openLedgerKit } from '../ledger/test-kit.js';
import { lockLiveLots, openAccountWork, valuesRowsMax } from '../ledger/work.js';
import { execRows, type LedgerDb, ledgerDriverOf, preparedQuery, statementsOf } from './ledger-db.js';
import * as schema from './schema.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

const contextOver = (db: LedgerDb): LedgerContext => ({
  db,
  clock: kit.clock,
  holdTtlMsDefault: 300_000,
  holdTtlMsMax: 86_400_000,
  idempotencyTtlMs: 86_400_000,
  retryCountMax: 0,
  faults: {},
});

const countEvents = async (subjectId: string) =>
  Number((await kit.rows<{ n: bigint }>(sql`select count(*) as n from events where subject_id = ${subjectId}`))[0]?.n);

describe('the driver under a ledger database', () => {
  it('commits a transaction with its queued writes, raw statements and drizzle statements on one connection', async () => {
    const accountId = await kit.account();
    const subject = `commit-${accountId}`;
    const seen = await ledgerDriverOf(kit.handle.db).transaction({ readCommitted: false }, async (tx) => {
      const statements = statementsOf(tx);
      await statements.queueWrite(
        `insert into events (type, account_id, subject_id, payload, created_at)
          values ('test', $1, $2, '{}'::jsonb, now()) returning 1 as written`,
        [accountId, subject],
        { check: (rows) => expect(rows).toHaveLength(1) },
      );
      // A later statement (raw or drizzle) sees the queued write: same transaction, same order.
      const [raw] = await statements.rows<{ n: bigint }>('select count(*) as n from events where subject_id = $1', [
        subject,
      ]);
      const [viaDrizzle] = await execRows<{ n: bigint }>(
        tx,
        sql`select count(*) as n from events where subject_id = ${subject}`,
      );
      return [raw?.n, viaDrizzle?.n];
    });
    expect(seen).toEqual([1n, 1n]);
    expect(await countEvents(subject)).toBe(1);
  });

  it('rolls back when a queued write fails by itself, even with the COMMIT pipelined behind it', async () => {
    const accountId = await kit.account();
    const subject = `fails-${accountId}`;
    const error = await ledgerDriverOf(kit.handle.db)
      .transaction({ readCommitted: false }, async (tx) => {
        await statementsOf(tx).queueWrite(
          `with written as (insert into events (type, account_id, subject_id, payload, created_at)
              values ('test', $1, $2, '{}'::jsonb, now()) returning 1)
            select case when (select count(*) from written) = 2 then 0 else 'wrong count'::int4 end as checked`,
          [accountId, subject],
          { check: () => {}, mapError: (cause) => new Error('mapped', { cause }) },
        );
        return 'done';
      })
      .then(
        () => null,
        (caught: unknown) => caught,
      );
    expect((error as Error).message).toBe('mapped');
    expect(((error as Error).cause as { code?: string }).code).toBe('22P02');
    expect(await countEvents(subject)).toBe(0);
  });

  it("throws what a queued write's check throws (a second line: the statement itself must refuse a bad write)", async () => {
    const accountId = await kit.account();
    const refused = new Error('two rows expected');
    await expect(
      ledgerDriverOf(kit.handle.db).transaction({ readCommitted: false }, async (tx) => {
        await statementsOf(tx).queueWrite('select $1::text as one', [accountId], {
          check: (rows) => {
            if (rows.length !== 2) throw refused;
          },
        });
        return 'done';
      }),
    ).rejects.toBe(refused);
  });

  it('fails the transaction on a statement error the body swallowed, and reports that error, not a later 25P02', async () => {
    const accountId = await kit.account();
    const subject = `swallowed-${accountId}`;
    const error = await ledgerDriverOf(kit.handle.db)
      .transaction({ readCommitted: false }, async (tx) => {
        const statements = statementsOf(tx);
        await statements.rows(
          `insert into events (type, account_id, subject_id, payload, created_at)
            values ('test', $1, $2, '{}'::jsonb, now())`,
          [accountId, subject],
        );
        await statements.rows('select 1 / 0 as boom', []).catch(() => 'swallowed');
        await execRows(tx, sql`select 1 as after_the_failure`).catch(() => 'swallowed too');
        return 'done';
      })
      .then(
        () => null,
        (caught: unknown) => caught,
      );
    expect((error as { code?: string } | null)?.code).toBe('22012'); // division_by_zero
    expect(await countEvents(subject)).toBe(0);
  });

  it('makes a write statement with a wrong row count fail by itself: LedgerInvariantError, nothing written', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    const before = await kit.counts();
    const ctx = contextOver(kit.handle.db);
    const failure = await runWrite(
      ctx,
      { scope: 'test', input: null, idempotencyKey: undefined },
      async ({ tx, now }) => {
        const work = await openAccountWork(ctx, tx, now, accountId, 'general');
        const [lot] = work.lots;
        work.move(lot!, 'reserve', 'available', 'reserved', 10n, null);
        work.emit('test.event', accountId, {});
        work.addWrite('claims_two_rows', sql`select 1 as one`, 2);
        await work.flush('test', null, null);
        return null;
      },
    ).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(LedgerInvariantError);
    expect((failure as LedgerInvariantError).details.counts).toContain('"claims_two_rows":1');
    expect(await kit.counts()).toEqual(before);
  });

  it('writes raw and drizzle CTE bodies queued on a unit of work in its one write statement', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    const ctx = contextOver(kit.handle.db);
    const subjects = [`raw-a-${accountId}`, `raw-b-${accountId}`];
    const drizzleSubject = `drizzle-${accountId}`;
    await runWrite(ctx, { scope: 'test', input: null, idempotencyKey: undefined }, async ({ tx, now }) => {
      const work = await openAccountWork(ctx, tx, now, accountId, 'general');
      work.addRawWrite(
        'raw_events',
        (param) => `insert into events (type, account_id, subject_id, payload, created_at)
          select 'test.raw', ${param(accountId, 'text')}, v.subject, '{}'::jsonb, ${param(now.toISOString(), 'text')}::timestamptz
          from unnest(${param(subjects, 'text[]')}) as v(subject) returning 1`,
        2,
      );
      work.addWrite(
        'drizzle_events',
        sql`insert into events (type, account_id, subject_id, payload, created_at)
          values ('test.drizzle', ${accountId}, ${drizzleSubject}, '{}'::jsonb, ${now.toISOString()}::timestamptz) returning 1`,
        1,
      );
      await work.flush('test', null, null);
      return null;
    });
    expect(await countEvents(subjects[0] as string)).toBe(1);
    expect(await countEvents(subjects[1] as string)).toBe(1);
    expect(await countEvents(drizzleSubject)).toBe(1);
  });

  it(`keeps the journal order when a write has more rows than travel as scalars (${valuesRowsMax})`, async () => {
    const accountId = await kit.account();
    const lotIds: string[] = [];
    for (let index = 0; index < valuesRowsMax + 2; index += 1) {
      lotIds.push((await kit.ledger.mint({ accountId, amountMicro: 10n, sourceType: 'grant' })).lot.id);
    }
    const amountMicro = BigInt(10 * lotIds.length - 5);
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro });
    expect(reservation.lots.map((part) => part.lotId)).toEqual(lotIds);
    await kit.ledger.release({ reservationId: reservation.id });
    const { items } = await kit.ledger.listEntries(accountId, { limit: 2 * lotIds.length });
    const journal = items.reverse().map((entry) => [entry.kind, entry.lotId, entry.availableAfterMicro]);
    let availableMicro = 10n * BigInt(lotIds.length);
    const expected: unknown[] = [];
    for (const part of reservation.lots) {
      availableMicro -= part.amountMicro;
      expected.push(['reserve', part.lotId, availableMicro]);
    }
    for (const part of [...reservation.lots].reverse()) {
      availableMicro += part.amountMicro;
      expected.push(['release', part.lotId, availableMicro]);
    }
    expect(journal).toEqual(expected);
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });

  it('reads lots exactly as drizzle selects them (dates, nulls, bigints)', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 7n, sourceType: 'grant' });
    await kit.ledger.mint({
      accountId,
      amountMicro: 9n,
      sourceType: 'deposit',
      sourceId: `src-${accountId}`,
      poolId: 'gpu',
      expiresAt: new Date(kit.clock.nowMs() + 12_345),
    });
    const raw = await ledgerDriverOf(kit.handle.db).transaction({ readCommitted: false }, (tx) =>
      lockLiveLots(tx, accountId, 'gpu'),
    );
    const viaDrizzle = await kit.handle.db.select().from(schema.lots).where(eq(schema.lots.accountId, accountId));
    expect(raw).toHaveLength(2);
    expect(raw.map((lot) => lot.poolId)).toEqual(['gpu', 'general']);
    expect([...raw].sort((a, b) => Number(a.seq - b.seq))).toEqual(viaDrizzle.sort((a, b) => Number(a.seq - b.seq)));
  });

  it('answers prepared drizzle queries with placeholders with the rows execRows answers, per call values', async () => {
    const accountIds = [await kit.account(), await kit.account()];
    const byId = preparedQuery(
      sql`select id, debt_micro, created_at from accounts where id = ${sql.placeholder('id')} and debt_micro >= ${0}`,
    );
    for (const accountId of accountIds) {
      const direct = await execRows(
        kit.handle.db,
        sql`select id, debt_micro, created_at from accounts where id = ${accountId} and debt_micro >= ${0}`,
      );
      expect(direct).toHaveLength(1);
      expect(await byId(kit.handle.db, { id: accountId })).toEqual(direct);
    }
    expect(await byId(kit.handle.db, { id: 'acc_missing' })).toEqual([]);
  });

  it('runs the ledger on a drizzle database it did not open (drizzle transactions and execute)', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 1_000n, sourceType: 'grant' });
    let plain: LedgerDb;
    let end = async () => {};
    if (kit.handle.kind === 'pglite') {
      plain = drizzlePglite({ client: (kit.handle.db as unknown as { $client: PGlite }).$client, schema });
    } else {
      const client = postgres(kit.handle.databaseUrl as string, {
        max: 2,
        types: { bigint: postgres.BigInt },
        onnotice: () => {},
      });
      plain = drizzlePostgres({ client, schema });
      end = () => client.end({ timeout: 5 });
    }
    try {
      const ledger = createLedger({ db: plain, clock: kit.clock });
      const { reservation } = await ledger.reserve({ accountId, amountMicro: 300n }, { idempotencyKey: 'plain-1' });
      const again = await ledger.reserve({ accountId, amountMicro: 300n }, { idempotencyKey: 'plain-1' });
      expect(again.reservation).toEqual(reservation);
      const finalized = await ledger.finalize({ reservationId: reservation.id, actualCostMicro: 120n });
      expect(finalized).toMatchObject({ chargedMicro: 120n, releasedMicro: 180n });
      expect((await kit.ledger.getBalance(accountId)).availableMicro).toBe(880n);
      expect((await kit.ledger.verify()).violations).toEqual([]);
    } finally {
      await end();
    }
  });
});
