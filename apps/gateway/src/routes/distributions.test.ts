import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

describe(`distribution routes on ${backend}`, () => {
  let f: LedgerAppFixture;
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  it('answers which rule governed a charge, and the totals per pool over a range', async () => {
    const from = new Date(f.clock.nowMs() - 1000).toISOString();
    const { accountId } = await f.userAccount('dora', '5000000');
    const hold = await f.reserve(accountId, '1000000');
    const finalized = await f.post(`/v1/reservations/${hold.id}/finalize`, {
      token: f.tokens.service,
      json: { actualCostMicro: '800000' },
    });
    expect(finalized.status).toBe(200);
    const distribution = await f.get(`/v1/reservations/${hold.id}/distribution`, { token: f.tokens.service });
    expect(distribution.status).toBe(200);
    const body = (await distribution.json()) as { charge: Record<string, unknown>; reversals: unknown[] };
    expect(body.charge).toMatchObject({
      kind: 'charge',
      amountMicro: '800000',
      ruleId: 'rule_initial',
      ruleVersion: 1,
      ruleSchemaVersion: 1,
      shares: { commons: '40000', community: '560000', foundation: '200000', referrer: '0', treasury: '0' },
    });
    expect(body.reversals).toEqual([]);

    const to = new Date(f.clock.nowMs() + 1000).toISOString();
    const totals = await f.get(`/v1/revenue/totals?from=${from}&to=${to}`, { token: f.tokens.admin });
    expect(totals.status).toBe(200);
    const pools = ((await totals.json()) as { pools: { pool: string; netMicro: string }[] }).pools;
    const community = pools.find((p) => p.pool === 'community');
    expect(BigInt(community?.netMicro ?? '0')).toBeGreaterThanOrEqual(560_000n);
    expect(pools.map((p) => p.pool)).toEqual(['commons', 'community', 'foundation', 'referrer', 'treasury']);
  });

  it('refuses users, unknown holds, bad ranges and admins without a revenue scope', async () => {
    const { token } = await f.userAccount('eve', '1000');
    await errorOf(await f.get('/v1/reservations/res_missing/distribution', { token }), 401, 'wrong_audience');
    await errorOf(
      await f.get('/v1/reservations/res_missing/distribution', { token: f.tokens.service }),
      404,
      'reservation_not_found',
    );
    await errorOf(
      await f.get('/v1/revenue/totals?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', { token: f.tokens.admin }),
      400,
      'validation_failed',
    );
    await errorOf(
      await f.get('/v1/revenue/totals?from=yesterday&to=2026-01-01T00:00:00Z', { token: f.tokens.admin }),
      400,
      'validation_failed',
    );
    await errorOf(
      await f.get('/v1/revenue/totals?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z', {
        token: f.tokens.adminNoScope,
      }),
      403,
      'insufficient_scope',
    );
  });
});
