import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeterNotFoundError } from '../errors.js';
import { sqlStateOf } from '../ledger/context.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from '../ledger/test-kit.js';
import type { MeterInput } from './types.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

let meters = 0;
/** A fresh meter id with chat-like prices: $3 per million input tokens, $15 per million output tokens. */
function chatMeter(overrides: Partial<MeterInput> = {}): MeterInput {
  meters += 1;
  return {
    id: `chat-${meters}`,
    holdMicro: 20_000n,
    createdBy: 'alice',
    unitPrices: [
      { dimension: 'input_tokens', priceMicro: 3_000_000n, perUnits: 1_000_000n },
      { dimension: 'output_tokens', priceMicro: 15_000_000n, perUnits: 1_000_000n },
    ],
    ...overrides,
  };
}

async function funded(amountMicro = 10_000_000n): Promise<string> {
  const accountId = await kit.account();
  await kit.ledger.mint({ accountId, amountMicro, sourceType: 'grant' });
  return accountId;
}

describe('meters (the price book)', () => {
  it('creates version 1, then a new version per change; old versions stay readable and the newest is in force', async () => {
    const input = chatMeter();
    const first = await kit.ledger.createMeter(input);
    expect(first).toMatchObject({
      id: input.id,
      version: 1,
      poolId: 'general',
      billingMode: 'live',
      holdMicro: 20_000n,
    });
    expect(first.unitPrices[0]).toEqual({
      dimension: 'input_tokens',
      priceMicro: 3_000_000n,
      perUnits: 1_000_000n,
      unitsMax: 1_000_000_000n,
    });
    const second = await kit.ledger.createMeter({ ...input, holdMicro: 30_000n, createdBy: 'bob' });
    expect(second.version).toBe(2);
    expect((await kit.ledger.getMeter(input.id)).version).toBe(2);
    expect(await kit.ledger.getMeter(input.id, { version: 1 })).toEqual(first);
    expect((await kit.ledger.listMeterVersions(input.id)).map((m) => m.version)).toEqual([2, 1]);
    expect((await kit.ledger.listMeters()).find((m) => m.id === input.id)?.version).toBe(2);
    const [event] = await kit.rows<{ payload: { version: number; previousVersion: number } }>(
      sql`select payload from events where type = 'meter.versioned' and subject_id = ${input.id} order by id desc limit 1`,
    );
    expect(event?.payload).toMatchObject({ version: 2, previousVersion: 1, createdBy: 'bob' });
  });

  it('a version scheduled for later is not in force until then; versions never take force out of order', async () => {
    const input = chatMeter();
    await kit.ledger.createMeter(input);
    const later = new Date(kit.clock.nowMs() + 60_000);
    await kit.ledger.createMeter({ ...input, holdMicro: 40_000n, effectiveAt: later });
    expect((await kit.ledger.getMeter(input.id)).version).toBe(1);
    await rejectsWithCode(
      kit.ledger.createMeter({ ...input, effectiveAt: new Date(kit.clock.nowMs() + 1_000) }),
      'invalid_argument',
    );
    kit.clock.advance(60_000);
    expect((await kit.ledger.getMeter(input.id)).version).toBe(2);
  });

  it('a meter version is append-only in the database', async () => {
    const input = chatMeter();
    await kit.ledger.createMeter(input);
    for (const statement of [
      sql`update meters set hold_micro = 1 where id = ${input.id}`,
      sql`delete from meters where id = ${input.id}`,
      sql`truncate meters cascade`,
    ]) {
      const error = await kit.rows(statement).then(
        () => null,
        (failure: unknown) => failure,
      );
      expect(sqlStateOf(error)).toBe('23001');
    }
    expect((await kit.ledger.getMeter(input.id)).holdMicro).toBe(20_000n);
  });

  it('unknown meters and versions are MeterNotFoundError; a meter scheduled only says not_in_force', async () => {
    await expect(kit.ledger.getMeter('nope')).rejects.toBeInstanceOf(MeterNotFoundError);
    const input = chatMeter();
    await kit.ledger.createMeter(input);
    await rejectsWithCode(kit.ledger.getMeter(input.id, { version: 9 }), 'meter_not_found');
    const scheduled = chatMeter({ effectiveAt: new Date(kit.clock.nowMs() + 5_000) });
    await kit.ledger.createMeter(scheduled);
    const error = await rejectsWithCode(kit.ledger.getMeter(scheduled.id), 'meter_not_found');
    expect((error as unknown as { details: { reason: string } }).details.reason).toBe('not_in_force');
  });

  it('refused meters write nothing (empty prices, duplicate dimension, overflow, hold above the cap)', async () => {
    const before = await kit.rows(sql`select count(*)::int as n from meters`);
    const prices = chatMeter().unitPrices;
    await rejectsWithCode(kit.ledger.createMeter(chatMeter({ unitPrices: [] })), 'meter_prices_empty');
    await rejectsWithCode(
      kit.ledger.createMeter(chatMeter({ unitPrices: [prices[0]!, prices[0]!] })),
      'meter_dimension_duplicate',
    );
    await rejectsWithCode(
      kit.ledger.createMeter(
        chatMeter({ unitPrices: [{ dimension: 'request', priceMicro: 10_000_000n, perUnits: 1n }] }),
      ),
      'meter_price_overflow',
    );
    await rejectsWithCode(kit.ledger.createMeter(chatMeter({ maxCostMicro: 1_000n })), 'invalid_argument');
    expect(await kit.rows(sql`select count(*)::int as n from meters`)).toEqual(before);
  });
});

describe('reserve by meter, finalize by usage', () => {
  it('holds the meter amount on its terms and records the meter version', async () => {
    const meter = await kit.ledger.createMeter(chatMeter({ poolId: 'gpu', billingMode: 'soft', ttlSeconds: 60 }));
    const accountId = await funded();
    const { reservation } = await kit.ledger.reserve({ accountId, meterId: meter.id });
    expect(reservation).toMatchObject({
      amountMicro: 20_000n,
      poolId: 'gpu',
      billingMode: 'soft',
      meterId: meter.id,
      meterVersion: 1,
      usage: null,
    });
    expect(reservation.expiresAt.getTime() - reservation.createdAt.getTime()).toBe(60_000);
  });

  it('sizes the hold by the estimate when it costs more, capped at maxCostMicro', async () => {
    const meter = await kit.ledger.createMeter(chatMeter({ maxCostMicro: 100_000n }));
    const accountId = await funded();
    const bigger = await kit.ledger.reserve({ accountId, meterId: meter.id, estimate: { output_tokens: 4000 } });
    expect(bigger.reservation.amountMicro).toBe(60_000n);
    const capped = await kit.ledger.reserve({ accountId, meterId: meter.id, estimate: { output_tokens: 1_000_000 } });
    expect(capped.reservation.amountMicro).toBe(100_000n);
    const smaller = await kit.ledger.reserve({ accountId, meterId: meter.id, estimate: { output_tokens: 1 } });
    expect(smaller.reservation.amountMicro).toBe(20_000n);
  });

  it('charges the itemized cost under the version the hold recorded, even after a price change', async () => {
    const input = chatMeter();
    await kit.ledger.createMeter(input);
    const accountId = await funded(1_000_000n);
    const { reservation } = await kit.ledger.reserve({ accountId, meterId: input.id });
    await kit.ledger.createMeter({
      ...input,
      unitPrices: [
        { dimension: 'input_tokens', priceMicro: 30_000_000n, perUnits: 1_000_000n },
        { dimension: 'output_tokens', priceMicro: 150_000_000n, perUnits: 1_000_000n },
      ],
    });
    const usage = { input_tokens: 1200, output_tokens: 340 };
    const result = await kit.ledger.finalize({ reservationId: reservation.id, usage });
    // 1200 × 3 / 10^6 $ = 3600 micro; 340 × 15 = 5100 micro.
    expect(result.pricing).toEqual({
      meterId: input.id,
      meterVersion: 1,
      lines: [
        { dimension: 'input_tokens', units: 1200n, priceMicro: 3_000_000n, perUnits: 1_000_000n, amountMicro: 3600n },
        { dimension: 'output_tokens', units: 340n, priceMicro: 15_000_000n, perUnits: 1_000_000n, amountMicro: 5100n },
      ],
      subtotalMicro: 8700n,
      totalMicro: 8700n,
      capped: false,
    });
    expect(result.chargedMicro).toBe(8700n);
    expect(result.reservation).toMatchObject({
      actualCostMicro: 8700n,
      usage: { input_tokens: 1200n, output_tokens: 340n },
    });
    expect((await kit.ledger.getBalance(accountId)).availableMicro).toBe(1_000_000n - 8700n);
    const repeat = await kit.ledger.finalize({ reservationId: reservation.id, usage });
    expect(repeat.pricing).toEqual(result.pricing);
    expect(repeat.chargedMicro).toBe(8700n);
    await rejectsWithCode(
      kit.ledger.finalize({ reservationId: reservation.id, usage: { input_tokens: 1200, output_tokens: 341 } }),
      'finalize_conflict',
    );
    const report = await kit.ledger.verify();
    expect(report.violations).toEqual([]);
    expect(report.counts.meteredCharges).toBeGreaterThanOrEqual(1);
  });

  it('an unknown dimension or bad units is a 400 that leaves the hold pending and nothing written', async () => {
    const meter = await kit.ledger.createMeter(chatMeter());
    const accountId = await funded();
    const { reservation } = await kit.ledger.reserve({ accountId, meterId: meter.id });
    const before = await kit.counts();
    await rejectsWithCode(
      kit.ledger.finalize({ reservationId: reservation.id, usage: { images: 1 } }),
      'unknown_dimension',
    );
    await rejectsWithCode(
      kit.ledger.finalize({ reservationId: reservation.id, usage: { input_tokens: -1 } }),
      'invalid_usage',
    );
    await rejectsWithCode(
      kit.ledger.finalize({ reservationId: reservation.id, usage: { input_tokens: 2_000_000_000 } }),
      'invalid_usage',
    );
    await rejectsWithCode(
      kit.ledger.reserve({ accountId, meterId: meter.id, estimate: { images: 3 } }),
      'unknown_dimension',
    );
    expect(await kit.counts()).toEqual(before);
    expect((await kit.ledger.getReservation(reservation.id)).status).toBe('pending');
  });

  it('finalize by usage of a raw hold is reservation_not_metered; a metered hold may still be finalized by cost', async () => {
    const meter = await kit.ledger.createMeter(chatMeter());
    const accountId = await funded();
    const raw = await kit.ledger.reserve({ accountId, amountMicro: 1_000n });
    await rejectsWithCode(
      kit.ledger.finalize({ reservationId: raw.reservation.id, usage: { input_tokens: 1 } }),
      'reservation_not_metered',
    );
    const metered = await kit.ledger.reserve({ accountId, meterId: meter.id });
    const byCost = await kit.ledger.finalize({ reservationId: metered.reservation.id, actualCostMicro: 500n });
    expect(byCost).toMatchObject({ chargedMicro: 500n, pricing: null });
    expect(byCost.reservation.usage).toBeNull();
  });

  it('refuses mixed forms before any I/O', async () => {
    const accountId = await funded();
    await rejectsWithCode(
      kit.ledger.reserve({ accountId, meterId: 'chat', amountMicro: 5n } as never),
      'invalid_argument',
    );
    await rejectsWithCode(
      kit.ledger.reserve({ accountId, amountMicro: 5n, estimate: { x: 1 } } as never),
      'invalid_argument',
    );
    await rejectsWithCode(kit.ledger.finalize({ reservationId: 'res_x' } as never), 'invalid_argument');
    await rejectsWithCode(kit.ledger.reserve({ accountId, meterId: 'no-such-meter' }), 'meter_not_found');
  });

  it('verify reports a metered charge that does not equal its recomputed cost', async () => {
    const isolated = await openLedgerKit();
    try {
      const meter = await isolated.ledger.createMeter(chatMeter());
      const accountId = await isolated.account();
      await isolated.ledger.mint({ accountId, amountMicro: 1_000_000n, sourceType: 'grant' });
      const { reservation } = await isolated.ledger.reserve({ accountId, meterId: meter.id });
      await isolated.ledger.finalize({ reservationId: reservation.id, usage: { output_tokens: 340 } });
      expect((await isolated.ledger.verify()).ok).toBe(true);
      await isolated.rows(
        sql`update reservations set usage = '{"output_tokens":"341"}'::jsonb where id = ${reservation.id}`,
      );
      const report = await isolated.ledger.verify();
      expect(report.violations.map((v) => v.rule)).toContain('metered_charge_mismatch');
    } finally {
      await isolated.close();
    }
  });
});

describe('idempotency keys are scoped', () => {
  it('two callers with the same key both succeed; the same caller replays its first answer', async () => {
    const alice = await funded();
    const bob = await funded();
    const first = await kit.ledger.reserve(
      { accountId: alice, amountMicro: 100n },
      { idempotencyKey: 'order-1', idempotencyScope: 'arrakis-api:alice' },
    );
    const other = await kit.ledger.reserve(
      { accountId: bob, amountMicro: 100n },
      { idempotencyKey: 'order-1', idempotencyScope: 'arrakis-api:bob' },
    );
    expect(other.reservation.id).not.toBe(first.reservation.id);
    const replay = await kit.ledger.reserve(
      { accountId: alice, amountMicro: 100n },
      { idempotencyKey: 'order-1', idempotencyScope: 'arrakis-api:alice' },
    );
    expect(replay.reservation.id).toBe(first.reservation.id);
    await rejectsWithCode(
      kit.ledger.reserve({ accountId: alice, amountMicro: 1n }, { idempotencyKey: 'k', idempotencyScope: '' }),
      'invalid_argument',
    );
  });
});
