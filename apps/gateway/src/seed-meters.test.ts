import { ManualClock } from '@arrakis/atomic-counter';
import { createLedger, type Ledger } from '@arrakis/billing-ledger';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import type { MeterConfig } from './meters-config.js';
import { seedMeters } from './seed-meters.js';
import { openTestLedgerDb, type TestLedgerDb } from './testing/test-ledger-db.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';
const logger = pino({ level: 'silent' });

/** The meters of a `METERS` value, as the gateway's config parses them. */
function metersOf(value: unknown[]): readonly MeterConfig[] {
  return parseConfig({ NODE_ENV: 'test', METERS: JSON.stringify(value) }).economy.meters;
}

const chat = {
  id: 'chat',
  holdMicro: '20000',
  unitPrices: [
    { dimension: 'input_tokens', priceMicro: '3000000', perUnits: '1000000' },
    { dimension: 'output_tokens', priceMicro: '15000000', perUnits: '1000000' },
  ],
};
const image = {
  id: 'image',
  holdMicro: '40000',
  billingMode: 'soft',
  unitPrices: [{ dimension: 'image', priceMicro: '40000', perUnits: '1' }],
};

describe(`seeding METERS on ${backend}`, () => {
  let db: TestLedgerDb;
  let ledger: Ledger;
  const clock = new ManualClock(Date.UTC(2026, 11, 3, 12));
  const seed = (meters: readonly MeterConfig[]) => seedMeters({ ledger, meters, logger, nowMs: clock.nowMs() });
  const versionsOf = async (id: string) => (await ledger.listMeterVersions(id)).map((meter) => meter.version);
  beforeAll(async () => {
    db = await openTestLedgerDb();
    ledger = createLedger({ db: db.db, clock });
  });
  afterAll(async () => {
    await db.close();
  });

  it('creates each meter by `config`, and a restart with the same config creates nothing', async () => {
    const first = await seed(metersOf([chat, image]));
    expect(first.created.map((meter) => [meter.id, meter.version, meter.createdBy])).toEqual([
      ['chat', 1, 'config'],
      ['image', 1, 'config'],
    ]);
    expect(first.created[1]).toMatchObject({ billingMode: 'soft', poolId: 'general', maxCostMicro: null });
    clock.advance(1000);
    expect(await seed(metersOf([chat, image]))).toEqual({ created: [], unchanged: ['chat', 'image'] });
    // Defaults spelled out are the same terms.
    const explicit = { ...chat, poolId: 'general', billingMode: 'live' };
    const unitsMax = chat.unitPrices.map((price) => ({ ...price, unitsMax: '1000000000' }));
    expect((await seed(metersOf([{ ...explicit, unitPrices: unitsMax }]))).created).toEqual([]);
    expect(await versionsOf('chat')).toEqual([1]);
  });

  it('a changed term or price is a new version; holds keep their version', async () => {
    const dearer = { ...chat, unitPrices: [chat.unitPrices[0], { ...chat.unitPrices[1], priceMicro: '16000000' }] };
    const changed = await seed(metersOf([dearer, image]));
    expect(changed.created.map((meter) => [meter.id, meter.version])).toEqual([['chat', 2]]);
    expect(changed.unchanged).toEqual(['image']);
    expect((await seed(metersOf([{ ...image, ttlSeconds: 60 }]))).created.map((m) => m.version)).toEqual([2]);
    expect((await seed(metersOf([dearer]))).created).toEqual([]);
    // Back to the first prices: a third version (never an update of the first).
    expect((await seed(metersOf([chat]))).created.map((meter) => meter.version)).toEqual([3]);
    expect(await versionsOf('chat')).toEqual([3, 2, 1]);
  });

  it('a scheduled version is compared too, so restarts before it takes force create nothing', async () => {
    const effectiveAt = new Date(clock.nowMs() + 3_600_000).toISOString();
    const later = {
      id: 'later',
      holdMicro: '1',
      effectiveAt,
      unitPrices: [{ dimension: 'request', priceMicro: '1', perUnits: '1' }],
    };
    expect((await seed(metersOf([later]))).created.map((meter) => meter.effectiveAt.toISOString())).toEqual([
      effectiveAt,
    ]);
    clock.advance(1000);
    expect((await seed(metersOf([later]))).created).toEqual([]);
    // Changed while the first is still scheduled: the new version cannot take force before it.
    const changed = await seed(metersOf([{ ...later, holdMicro: '2', effectiveAt: undefined }]));
    expect(changed.created.map((meter) => [meter.version, meter.effectiveAt.toISOString()])).toEqual([
      [2, effectiveAt],
    ]);
    // A configured effectiveAt in the past (a restart after it took force, with other terms) means now.
    clock.advance(7_200_000);
    const past = await seed(metersOf([{ ...later, holdMicro: '3' }]));
    expect(past.created.map((meter) => meter.effectiveAt.getTime())).toEqual([clock.nowMs()]);
  });

  it('two instances starting together with the same config create one version', async () => {
    const shared = metersOf([{ ...chat, id: 'shared' }]);
    const [a, b] = await Promise.all([seed(shared), seed(shared)]);
    expect([...a.created, ...b.created].every((meter) => meter.version === 1)).toBe(true);
    expect(await versionsOf('shared')).toEqual([1]);
  });

  it('a meter the ledger refuses stops the seeding with a message naming it, and writes nothing for it', async () => {
    const cases: [unknown, string][] = [
      [{ ...chat, id: 'empty', unitPrices: [] }, 'meter_prices_empty'],
      [{ ...chat, id: 'twice', unitPrices: [chat.unitPrices[0], chat.unitPrices[0]] }, 'meter_dimension_duplicate'],
      [
        { ...chat, id: 'huge', unitPrices: [{ dimension: 'request', priceMicro: '1000000000000000', perUnits: '1' }] },
        'meter_price_overflow',
      ],
    ];
    for (const [meter, code] of cases) {
      const id = (meter as { id: string }).id;
      await expect(seed(metersOf([meter]))).rejects.toThrow(`METERS: meter "${id}" could not be seeded (${code}`);
      await expect(ledger.listMeterVersions(id)).rejects.toMatchObject({ code: 'meter_not_found' });
    }
  });
});
