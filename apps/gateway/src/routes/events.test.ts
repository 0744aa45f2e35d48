import { eventPageBodySchema } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

describe(`GET /v1/events on ${backend}`, () => {
  let f: LedgerAppFixture;
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  async function page(query: string, token = f.tokens.service) {
    const response = await f.get(`/v1/events${query}`, { token });
    expect(response.status).toBe(200);
    return eventPageBodySchema.parse(await response.json());
  }

  // First in the file: the feed of the fresh database holds only the migration's seeded revenue rule activation.
  it('reads the outbox oldest first, in pages linked by nextCursor; an empty page keeps the cursor', async () => {
    const fresh = await page('');
    expect(fresh.events.map((event) => [event.type, event.subjectId])).toEqual([
      ['revenue_rule.activated', 'rule_initial'],
    ]);
    const { accountId: id } = await f.userAccount('alice', '1000');
    const hold = await f.reserve(id, '400');
    await f.post(`/v1/reservations/${hold.id}/finalize`, { token: f.tokens.service, json: { actualCostMicro: '300' } });

    const all = await page('', f.tokens.admin);
    const types = all.events.map((event) => event.type);
    expect(types).toEqual(expect.arrayContaining(['lot.minted', 'reservation.created', 'reservation.finalized']));
    expect(types.indexOf('lot.minted')).toBeLessThan(types.indexOf('reservation.created'));
    expect(types.indexOf('reservation.created')).toBeLessThan(types.indexOf('reservation.finalized'));
    const ids = all.events.map((event) => BigInt(event.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const minted = all.events.find((event) => event.type === 'lot.minted');
    expect(minted).toMatchObject({ accountId: id });

    const first = await page('?limit=1');
    expect(first.events).toHaveLength(1);
    expect(first.events[0]?.id).toBe(all.events[0]?.id);
    const rest = await page(`?after=${first.nextCursor}&limit=1000`);
    expect([...first.events, ...rest.events].map((event) => event.id)).toEqual(all.events.map((event) => event.id));
    const tail = await page(`?after=${rest.nextCursor}`);
    expect(tail).toEqual({ events: [], nextCursor: rest.nextCursor });
    await f.grant(id, '5');
    const next = await page(`?after=${tail.nextCursor}`);
    expect(next.events.map((event) => event.type)).toEqual(['lot.minted']);
  });

  it('is for services and admins only', async () => {
    await errorOf(await f.get('/v1/events', { token: (await f.user('reader')).token }), 401, 'wrong_audience');
    await errorOf(await f.get('/v1/events'), 401, 'missing_token');
  });

  it('bad cursors and limits are 400 (validation_failed or invalid_cursor)', async () => {
    for (const query of [
      '?limit=0',
      '?limit=1001',
      '?limit=1.5',
      '?limit=-2',
      '?limit=',
      '?after=!!',
      `?after=${'a'.repeat(65)}`,
    ]) {
      await errorOf(await f.get(`/v1/events${query}`, { token: f.tokens.service }), 400, 'validation_failed');
    }
    const { accountId: id } = await f.userAccount('cursors');
    for (const amount of ['1', '2']) await f.grant(id, amount);
    const entries = await f.ledger.listEntries(id, { limit: 1 });
    for (const cursor of ['abc', 'djE6MA', entries.nextCursor ?? 'ZTE6MQ']) {
      await errorOf(await f.get(`/v1/events?after=${cursor}`, { token: f.tokens.service }), 400, 'invalid_cursor');
    }
  });
});
