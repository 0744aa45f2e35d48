import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLedger, ManualClock, migrateLedger } from '@arrakis/billing-ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { ledgerDataDirName, ledgerDbKind, openLedgerDb, startLedgerSweepers, sweepBatchSizeMax } from './ledger.js';
import { createLogger } from './logger.js';
import type { LogLine } from './testing/app-fixture.js';
import { openTestLedgerDb, type TestLedgerDb } from './testing/test-ledger-db.js';

function capturingLogger() {
  const logs: LogLine[] = [];
  const logger = createLogger({ logLevel: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  return { logger, logs };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ledger database selection', () => {
  it('is PGlite under DATA_DIR/ledger without DATABASE_URL, Postgres with it', async () => {
    expect(ledgerDbKind(parseConfig({}))).toBe('pglite');
    expect(ledgerDbKind(parseConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' }))).toBe('postgres');
    const dataDir = await mkdtemp(join(tmpdir(), 'arrakis-ledger-dir-'));
    try {
      const handle = await openLedgerDb({ ...parseConfig({ DATA_DIR: dataDir }), dataDir });
      expect(handle.kind).toBe('pglite');
      await migrateLedger(handle.db, handle.kind);
      await handle.close();
      const again = await openLedgerDb({ ...parseConfig({ DATA_DIR: dataDir }), dataDir });
      // The system accounts written by the migration are still there: the store lives in DATA_DIR/ledger.
      await expect(createLedger({ db: again.db }).getAccount('acc_system_foundation')).resolves.toMatchObject({
        entityType: 'system',
      });
      await again.close();
      expect(ledgerDataDirName).toBe('ledger');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe(`ledger sweepers on ${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  let db: TestLedgerDb;
  const clock = new ManualClock(Date.parse('2026-05-01T00:00:00.000Z'));

  beforeAll(async () => {
    db = await openTestLedgerDb();
  });
  afterAll(async () => {
    await db.close();
  });

  it('run on their interval: expired holds and lots are swept, then the interval stops', async () => {
    const ledger = createLedger({ db: db.db, clock });
    const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'sweep' });
    await ledger.mint({ accountId: account.id, amountMicro: 1_000n, sourceType: 'grant' });
    await ledger.mint({
      accountId: account.id,
      amountMicro: 500n,
      sourceType: 'grant',
      expiresAt: new Date(clock.nowMs() + 60_000),
    });
    const { reservation } = await ledger.reserve({ accountId: account.id, amountMicro: 200n, ttlMs: 10_000 });
    const { logger, logs } = capturingLogger();
    const sweepers = startLedgerSweepers({ ledger, intervalMs: 20, logger });
    try {
      clock.advance(120_000);
      await until(async () => {
        const kinds = (await ledger.listEntries(account.id)).items.map((e) => e.kind);
        return kinds.includes('expire_hold') && kinds.includes('expire_lot');
      });
      expect((await ledger.getReservation(reservation.id)).status).toBe('expired');
      expect(await ledger.getBalance(account.id)).toMatchObject({ availableMicro: 1_000n, reservedMicro: 0n });
      await until(() => logs.some((l) => l.msg === 'ledger sweeper swept' && l.sweeper === 'expired_lots'));
    } finally {
      await sweepers.stop();
    }
    const entriesAfterStop = (await ledger.listEntries(account.id)).items.length;
    const { reservation: late } = await ledger.reserve({ accountId: account.id, amountMicro: 100n, ttlMs: 1_000 });
    clock.advance(5_000);
    await new Promise((r) => setTimeout(r, 100));
    // Stopped: nothing sweeps the new expired hold (it still reads as expired).
    expect((await ledger.listEntries(account.id)).items.length).toBe(entriesAfterStop + 1);
    expect((await ledger.getReservation(late.id)).status).toBe('expired');
    await sweepers.stop();
  });

  it('log a failing sweeper (warn) and keep running the others and the next ticks; 0 = no interval', async () => {
    let holdCalls = 0;
    let lotCalls = 0;
    let keyCalls = 0;
    const failing = {
      sweepExpiredHolds: async () => {
        holdCalls += 1;
        throw new Error('database is down');
      },
      sweepExpiredLots: async (options?: { batchSizeMax?: number }) => {
        lotCalls += 1;
        // A full batch asks for another one, within the tick.
        return { count: lotCalls === 1 ? (options?.batchSizeMax ?? 0) : 0, amountMicro: 0n };
      },
      sweepIdempotencyKeys: async () => {
        keyCalls += 1;
        return { count: 0, amountMicro: 0n };
      },
    };
    let identityCalls = 0;
    const identity = {
      sweepIdempotencyKeys: async (options: { batchSizeMax: number }) => {
        identityCalls += 1;
        return { count: identityCalls === 1 ? options.batchSizeMax : 0 };
      },
    };
    const { logger, logs } = capturingLogger();
    const sweepers = startLedgerSweepers({ ledger: failing, identity, intervalMs: 10, logger });
    await until(() => holdCalls >= 2 && keyCalls >= 2 && identityCalls >= 3);
    await sweepers.stop();
    expect(lotCalls).toBeGreaterThanOrEqual(3);
    expect(logs.find((l) => l.sweeper === 'identity_idempotency_keys')).toMatchObject({ count: sweepBatchSizeMax });
    expect(
      logs.filter((l) => l.msg === 'ledger sweeper failed; it runs again next tick').length,
    ).toBeGreaterThanOrEqual(2);
    expect(logs.find((l) => l.sweeper === 'expired_lots' && l.msg === 'ledger sweeper swept')).toMatchObject({
      count: sweepBatchSizeMax,
    });

    const calls = holdCalls;
    const off = startLedgerSweepers({ ledger: failing, intervalMs: 0, logger });
    await new Promise((r) => setTimeout(r, 50));
    expect(holdCalls).toBe(calls);
    await off.runOnce();
    expect(holdCalls).toBe(calls + 1);
    await off.stop();
    expect(() => startLedgerSweepers({ ledger: failing, intervalMs: -1, logger })).toThrow(TypeError);
  });

  it('two sets of sweepers on one database sweep each hold exactly once', async () => {
    const ledger = createLedger({ db: db.db, clock });
    const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'two-sweepers' });
    await ledger.mint({ accountId: account.id, amountMicro: 10_000n, sourceType: 'grant' });
    for (let i = 0; i < 20; i += 1) await ledger.reserve({ accountId: account.id, amountMicro: 10n, ttlMs: 1_000 });
    clock.advance(2_000);
    const { logger } = capturingLogger();
    const a = startLedgerSweepers({ ledger: createLedger({ db: db.db, clock }), intervalMs: 0, logger });
    const b = startLedgerSweepers({ ledger: createLedger({ db: db.db, clock }), intervalMs: 0, logger });
    await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
    const expired = (await ledger.listEntries(account.id, { limit: 200 })).items.filter(
      (e) => e.kind === 'expire_hold',
    );
    expect(expired).toHaveLength(20);
    expect(await ledger.getBalance(account.id)).toMatchObject({ availableMicro: 10_000n, reservedMicro: 0n });
    expect((await ledger.verify()).violations).toEqual([]);
  });
});
