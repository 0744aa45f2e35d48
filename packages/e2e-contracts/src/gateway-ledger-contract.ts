import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectError, expectOk, stateOf as stateOfAccount, unique } from './contract-kit.js';
import type { GatewayContractSigner } from './gateway-contract.js';
import { describeMeterContract } from './gateway-meter-contract.js';
import type { GatewayClient } from './http-client.js';
import { type AccountBody, type BalanceBody, grantBodySchema, reserveBodySchema } from './schemas.js';

/** Pages (of 1000 events) the events case reads at most to find the end of the feed. */
export const contractEventPagesMax = 50;

/** Tokens of the three audiences; the admin token needs the scope `admin` (it grants and reads). */
export interface LedgerContractTokens {
  user: string;
  service: string;
  admin: string;
}

/** What the ledger cases need: a client of the gateway under test and one token per audience. */
export interface LedgerContractContext {
  client: () => GatewayClient;
  tokens: () => LedgerContractTokens | Promise<LedgerContractTokens>;
  /**
   * The gateway's signing key: enables the cases that need more principals than the three tokens (two users with
   * the same `Idempotency-Key`, an admin without the `pricing:admin` scope). Skipped without it.
   */
  signer?: () => GatewayContractSigner | Promise<GatewayContractSigner>;
}

/**
 * Wire amounts a gateway must refuse with a 400 and without any effect: exponent, sign, leading zero, spaces,
 * empty, hex, decimal, non-ASCII digits, JSON numbers, null, and values above 10^15 or 20 characters.
 *
 * @example
 * ```ts
 * for (const amountMicro of nonCanonicalAmounts) expect((await grant({ amountMicro })).status).toBe(400);
 * ```
 */
export const nonCanonicalAmounts: readonly unknown[] = [
  '1e6',
  '-5',
  '007',
  ' 5',
  '5 ',
  '',
  '0x10',
  '1.5',
  '+5',
  '١٢',
  1.5,
  5,
  null,
  '1000000000000001',
  '99999999999999999999999',
];

/**
 * Registers the ledger part of the gateway contract (already included in `describeGatewayContract`):
 * accounts (201 then 200, user ownership → 403), grants, balances, lots, entries pagination, reserve → finalize,
 * reserve → release, 402 insufficient credits, idempotent replay and 409 reuse, 400 validation (non-canonical
 * amounts, ids, cursors, limits, Idempotency-Key), 404s, 409 state conflicts, the event feed, and the price book
 * (`describeMeterContract`: meters and their versions, metered holds, finalize by usage with itemized pricing,
 * `terms_not_allowed` for users, spend caps, idempotency keys scoped to the caller). Every refused write is checked to
 * leave the balance and the entries unchanged.
 *
 * @example
 * ```ts
 * describe('ledger only', () => {
 *   describeLedgerContract({ client: () => createGatewayClient({ baseUrl }), tokens: () => tokens });
 * });
 * ```
 */
export function describeLedgerContract(context: LedgerContractContext): void {
  const { client } = context;
  const tokens = async () => context.tokens();

  async function newAccount(label: string): Promise<AccountBody> {
    const created = await client().createAccount(
      { entityType: 'contract', entityId: unique(label) },
      { token: (await tokens()).service },
    );
    return expectOk(created, 201);
  }

  async function grant(accountId: string, amountMicro: string): Promise<BalanceBody> {
    const result = await client().grant(
      accountId,
      { amountMicro, reason: 'contract test' },
      { token: (await tokens()).admin },
    );
    return expectOk(result, 201).balance;
  }

  async function fundedAccount(label: string, amountMicro: string): Promise<AccountBody> {
    const account = await newAccount(label);
    await grant(account.id, amountMicro);
    return account;
  }

  /** Balance (without `asOf`) and every entry: what a refused request must leave untouched. */
  const stateOf = async (accountId: string) => stateOfAccount(client(), (await tokens()).service, accountId);

  describe('ledger: accounts', () => {
    it('POST /v1/accounts answers 201 with a new account, then 200 with the same one', async () => {
      const t = await tokens();
      const entityId = unique('create');
      const first = expectOk(
        await client().createAccount({ entityType: 'contract', entityId }, { token: t.service }),
        201,
      );
      expect(first).toMatchObject({ entityType: 'contract', entityId, debtMicro: '0' });
      const again = expectOk(
        await client().createAccount({ entityType: 'contract', entityId }, { token: t.admin }),
        200,
      );
      expect(again.id).toBe(first.id);
      const read = expectOk(await client().getAccount(first.id, { token: t.service }), 200);
      expect(read).toEqual(first);
    });

    it('a user token cannot create accounts (401 wrong_audience)', async () => {
      const result = await client().createAccount(
        { entityType: 'contract', entityId: unique('user') },
        { token: (await tokens()).user },
      );
      expectError(result, 401, 'wrong_audience');
    });

    it('a user reads their own account and balance, and no other (403 forbidden, existing or not)', async () => {
      const t = await tokens();
      const sub = String(decodeJwt(t.user).sub);
      const created = await client().createAccount({ entityType: 'user', entityId: sub }, { token: t.service });
      expect([200, 201]).toContain(created.status);
      const own = expectOk(created, created.status);
      expect(expectOk(await client().getAccount(own.id, { token: t.user }), 200).id).toBe(own.id);
      expect(expectOk(await client().getBalance(own.id, { token: t.user }), 200).accountId).toBe(own.id);
      const other = await newAccount('other');
      expectError(await client().getAccount(other.id, { token: t.user }), 403, 'forbidden');
      expectError(await client().getBalance(other.id, { token: t.user }), 403, 'forbidden');
      expectError(await client().listEntries(other.id, { token: t.user }), 403, 'forbidden');
      expectError(await client().getAccount(unique('missing'), { token: t.user }), 403, 'forbidden');
    });

    it('an unknown account is a 404 account_not_found for services and admins', async () => {
      const t = await tokens();
      const id = `acc_${randomUUID().replaceAll('-', '')}`;
      expectError(await client().getAccount(id, { token: t.service }), 404, 'account_not_found');
      expectError(await client().getBalance(id, { token: t.admin }), 404, 'account_not_found');
      expectError(await client().listLots(id, { token: t.service }), 404, 'account_not_found');
      expectError(await client().listEntries(id, { token: t.service }), 404, 'account_not_found');
      expectError(
        await client().grant(id, { amountMicro: '1', reason: 'contract' }, { token: t.admin }),
        404,
        'account_not_found',
      );
    });

    it('bad ids, cursors and limits are 400 with a stable code', async () => {
      const t = await tokens();
      const account = await newAccount('bad-input');
      expectError(await client().getAccount('bad id!', { token: t.service }), 400, 'validation_failed');
      expectError(await client().getBalance('x'.repeat(129), { token: t.service }), 400, 'validation_failed');
      for (const limit of [0, 201, -1]) {
        expectError(await client().listEntries(account.id, { token: t.service, limit }), 400, 'validation_failed');
      }
      expectError(await client().listEntries(account.id, { token: t.service, cursor: '!!' }), 400, 'validation_failed');
      expectError(await client().listEntries(account.id, { token: t.service, cursor: 'abc' }), 400, 'invalid_cursor');
      const malformed = await client().raw('/v1/accounts', {
        method: 'POST',
        token: t.service,
        body: '{"entityType":',
      });
      expect(malformed.status).toBe(400);
      for (const body of [
        { entityType: 'contract' },
        { entityType: 'Contract', entityId: 'a' },
        { entityType: 'system', entityId: 'foundation' },
      ]) {
        const result = await client().createAccount(body as { entityType: string; entityId: string }, {
          token: t.service,
        });
        expectError(result, 400, 'validation_failed');
      }
    });
  });

  describe('ledger: grants, balance, lots, entries', () => {
    it('an admin grant mints a lot (201) and the balance, lots and entries show it', async () => {
      const t = await tokens();
      const account = await newAccount('grant');
      const result = expectOk(
        await client().grant(account.id, { amountMicro: '2500000', reason: 'contract grant' }, { token: t.admin }),
        201,
      );
      expect(result.lot).toMatchObject({
        accountId: account.id,
        poolId: 'general',
        sourceType: 'grant',
        originalMicro: '2500000',
        availableMicro: '2500000',
        reservedMicro: '0',
        consumedMicro: '0',
      });
      expect(result.balance).toMatchObject({ accountId: account.id, availableMicro: '2500000', reservedMicro: '0' });
      const balance = expectOk(await client().getBalance(account.id, { token: t.service }), 200);
      expect(balance).toMatchObject({ availableMicro: '2500000', reservedMicro: '0', debtMicro: '0' });
      const lots = expectOk(await client().listLots(account.id, { token: t.service }), 200);
      expect(lots.lots.map((lot) => lot.id)).toEqual([result.lot.id]);
      const entries = expectOk(await client().listEntries(account.id, { token: t.service }), 200);
      expect(entries.entries).toHaveLength(1);
      expect(entries.entries[0]).toMatchObject({
        kind: 'mint',
        lotId: result.lot.id,
        amountMicro: '2500000',
        fromBucket: 'external',
        toBucket: 'available',
        availableAfterMicro: '2500000',
      });
      expect(entries.nextCursor).toBeNull();
    });

    it('grants need an admin token: a service token is a 401 wrong_audience', async () => {
      const t = await tokens();
      const account = await newAccount('grant-auth');
      const result = await client().grant(account.id, { amountMicro: '1', reason: 'x' }, { token: t.service });
      expectError(result, 401, 'wrong_audience');
    });

    it('entries are paginated newest first with a cursor, null at the end', async () => {
      const t = await tokens();
      const account = await newAccount('pages');
      for (const amount of ['1000', '2000', '3000']) await grant(account.id, amount);
      const first = expectOk(await client().listEntries(account.id, { token: t.service, limit: 2 }), 200);
      expect(first.entries.map((e) => e.amountMicro)).toEqual(['3000', '2000']);
      expect(first.nextCursor).not.toBeNull();
      const second = expectOk(
        await client().listEntries(account.id, { token: t.service, limit: 2, cursor: first.nextCursor ?? '' }),
        200,
      );
      expect(second.entries.map((e) => e.amountMicro)).toEqual(['1000']);
      expect(second.nextCursor).toBeNull();
      const ids = [...first.entries, ...second.entries].map((e) => BigInt(e.id));
      expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    });

    it('non-canonical amounts are 400 validation_failed and change nothing', async () => {
      const t = await tokens();
      const account = await fundedAccount('amounts', '1000000');
      const before = await stateOf(account.id);
      for (const amountMicro of nonCanonicalAmounts) {
        const granted = await client().request(`/v1/accounts/${account.id}/grants`, {
          method: 'POST',
          token: t.admin,
          json: { amountMicro, reason: 'contract' },
          schema: grantBodySchema,
          okStatuses: [201],
        });
        expectError(granted, 400, 'validation_failed');
        const reserved = await client().request('/v1/reservations', {
          method: 'POST',
          token: t.service,
          json: { accountId: account.id, amountMicro },
          schema: reserveBodySchema,
          okStatuses: [201],
        });
        expectError(reserved, 400, 'validation_failed');
      }
      expect(await stateOf(account.id)).toEqual(before);
    });

    it('the same Idempotency-Key and body replays the grant; another body is a 409', async () => {
      const t = await tokens();
      const account = await newAccount('idem');
      const key = unique('key');
      const body = { amountMicro: '700000', reason: 'contract idempotency' };
      const first = expectOk(await client().grant(account.id, body, { token: t.admin, idempotencyKey: key }), 201);
      const replay = expectOk(await client().grant(account.id, body, { token: t.admin, idempotencyKey: key }), 201);
      expect(replay.lot.id).toBe(first.lot.id);
      const before = await stateOf(account.id);
      expect(before.balance.availableMicro).toBe('700000');
      const conflict = await client().grant(
        account.id,
        { ...body, amountMicro: '700001' },
        { token: t.admin, idempotencyKey: key },
      );
      expectError(conflict, 409, 'idempotency_key_reused');
      expectError(
        await client().grant(account.id, body, { token: t.admin, idempotencyKey: 'x'.repeat(256) }),
        400,
        'validation_failed',
      );
      expect(await stateOf(account.id)).toEqual(before);
    });
  });

  describe('ledger: reservations', () => {
    it('reserve → finalize charges the cost, releases the rest, and a repeat answers the same', async () => {
      const t = await tokens();
      const account = await fundedAccount('finalize', '5000000');
      const hold = expectOk(
        await client().reserve({ accountId: account.id, amountMicro: '1000000' }, { token: t.service }),
        201,
      );
      expect(hold).toMatchObject({ status: 'pending', amountMicro: '1000000', accountId: account.id });
      expect(hold.lots.reduce((sum, lot) => sum + BigInt(lot.amountMicro), 0n)).toBe(1_000_000n);
      expect(hold.balance).toMatchObject({ availableMicro: '4000000', reservedMicro: '1000000' });
      expect(Date.parse(hold.expiresAt)).toBeGreaterThan(Date.now() - 60_000);

      const done = expectOk(await client().finalize(hold.id, { actualCostMicro: '600000' }, { token: t.service }), 200);
      expect(done).toMatchObject({
        id: hold.id,
        status: 'finalized',
        chargedMicro: '600000',
        releasedMicro: '400000',
        overrunMicro: '0',
        uncollectedMicro: '0',
      });
      // The charge is split by the rule in force: every share accounted for, to the micro-USD.
      expect(done.distribution).toMatchObject({ kind: 'charge', reservationId: hold.id, amountMicro: '600000' });
      expect(done.balance).toMatchObject({ availableMicro: '4400000', reservedMicro: '0' });
      const again = expectOk(
        await client().finalize(hold.id, { actualCostMicro: '600000' }, { token: t.service }),
        200,
      );
      expect(again.chargedMicro).toBe('600000');
      const read = expectOk(await client().getReservation(hold.id, { token: t.service }), 200);
      expect(read).toMatchObject({ id: hold.id, status: 'finalized', chargedMicro: '600000' });
      expect(read.lots).toEqual(hold.lots);
    });

    it('reserve → release gives the hold back; a repeat is idempotent', async () => {
      const t = await tokens();
      const account = await fundedAccount('release', '3000000');
      const hold = expectOk(
        await client().reserve(
          { accountId: account.id, amountMicro: '1200000', ttlSeconds: 120 },
          { token: t.service },
        ),
        201,
      );
      const released = expectOk(await client().release(hold.id, { token: t.service }), 200);
      expect(released).toMatchObject({ id: hold.id, status: 'released', releasedMicro: '1200000' });
      expect(released.balance).toMatchObject({ availableMicro: '3000000', reservedMicro: '0' });
      const again = expectOk(await client().release(hold.id, { token: t.service }), 200);
      expect(again.status).toBe('released');
      expect(expectOk(await client().getBalance(account.id, { token: t.service }), 200).availableMicro).toBe('3000000');
    });

    it('a user reserves through a meter on their own account, not on another (403); finalize is for services', async () => {
      const t = await tokens();
      const sub = String(decodeJwt(t.user).sub);
      const created = await client().createAccount({ entityType: 'user', entityId: sub }, { token: t.service });
      const own = expectOk(created, created.status);
      await grant(own.id, '100000');
      const meter = expectOk(
        await client().createMeter(
          {
            id: unique('user-hold').toLowerCase(),
            holdMicro: '1000',
            unitPrices: [{ dimension: 'request', priceMicro: '1', perUnits: '1' }],
          },
          { token: t.admin },
        ),
        201,
      );
      const hold = expectOk(await client().reserve({ accountId: own.id, meterId: meter.id }, { token: t.user }), 201);
      expect(hold.amountMicro).toBe('1000');
      expectOk(await client().release(hold.id, { token: t.service }), 200);
      const other = await fundedAccount('user-other', '100000');
      const before = await stateOf(other.id);
      expectError(
        await client().reserve({ accountId: other.id, meterId: meter.id }, { token: t.user }),
        403,
        'forbidden',
      );
      expect(await stateOf(other.id)).toEqual(before);
      expectError(await client().finalize(hold.id, { actualCostMicro: '1' }, { token: t.user }), 401, 'wrong_audience');
    });

    it('more than the balance is a 402 insufficient_credits that changes nothing', async () => {
      const t = await tokens();
      const account = await fundedAccount('poor', '1000');
      const before = await stateOf(account.id);
      const result = await client().reserve({ accountId: account.id, amountMicro: '1001' }, { token: t.service });
      expectError(result, 402, 'insufficient_credits');
      if (!result.ok) {
        expect(result.body.details).toMatchObject({
          requestedMicro: '1001',
          availableMicro: '1000',
          shortfallMicro: '1',
        });
      }
      expect(await stateOf(account.id)).toEqual(before);
    });

    it('state conflicts are 409: finalize again with another cost, release a finalized hold, finalize a released one', async () => {
      const t = await tokens();
      const account = await fundedAccount('conflicts', '2000000');
      const a = expectOk(
        await client().reserve({ accountId: account.id, amountMicro: '500000' }, { token: t.service }),
        201,
      );
      expectOk(await client().finalize(a.id, { actualCostMicro: '100000' }, { token: t.service }), 200);
      const before = await stateOf(account.id);
      expectError(
        await client().finalize(a.id, { actualCostMicro: '100001' }, { token: t.service }),
        409,
        'finalize_conflict',
      );
      expectError(await client().release(a.id, { token: t.service }), 409, 'reservation_not_pending');
      expect(await stateOf(account.id)).toEqual(before);
      const b = expectOk(
        await client().reserve({ accountId: account.id, amountMicro: '500000' }, { token: t.service }),
        201,
      );
      expectOk(await client().release(b.id, { token: t.service }), 200);
      const afterRelease = await stateOf(account.id);
      expectError(
        await client().finalize(b.id, { actualCostMicro: '1' }, { token: t.service }),
        409,
        'reservation_not_pending',
      );
      expect(await stateOf(account.id)).toEqual(afterRelease);
    });

    it('the same Idempotency-Key replays a reserve; another body is a 409', async () => {
      const t = await tokens();
      const account = await fundedAccount('reserve-idem', '1000000');
      const key = unique('reserve');
      const body = { accountId: account.id, amountMicro: '250000' };
      const first = expectOk(await client().reserve(body, { token: t.service, idempotencyKey: key }), 201);
      const replay = expectOk(await client().reserve(body, { token: t.service, idempotencyKey: key }), 201);
      expect(replay.id).toBe(first.id);
      const before = await stateOf(account.id);
      expect(before.balance.reservedMicro).toBe('250000');
      expectError(
        await client().reserve({ ...body, amountMicro: '250001' }, { token: t.service, idempotencyKey: key }),
        409,
        'idempotency_key_reused',
      );
      expect(await stateOf(account.id)).toEqual(before);
    });

    it('unknown holds are 404, bad ids and bodies 400', async () => {
      const t = await tokens();
      const id = `res_${randomUUID().replaceAll('-', '')}`;
      expectError(await client().getReservation(id, { token: t.service }), 404, 'reservation_not_found');
      expectError(
        await client().finalize(id, { actualCostMicro: '1' }, { token: t.service }),
        404,
        'reservation_not_found',
      );
      expectError(await client().release(id, { token: t.service }), 404, 'reservation_not_found');
      expectError(await client().getReservation('no such id', { token: t.service }), 400, 'validation_failed');
      const account = await fundedAccount('bad-hold', '1000');
      for (const extra of [{ ttlSeconds: 0 }, { ttlSeconds: 1.5 }, { billingMode: 'free' }, { poolId: 'GPU' }]) {
        const result = await client().reserve({ accountId: account.id, amountMicro: '10', ...extra } as never, {
          token: t.service,
        });
        expectError(result, 400, 'validation_failed');
      }
    });
  });

  describe('ledger: events', () => {
    it('GET /v1/events reads the outbox oldest first; a grant shows up after the last cursor', async () => {
      const t = await tokens();
      let after: string | undefined;
      for (let page = 0; page < contractEventPagesMax; page += 1) {
        const body = expectOk(await client().listEvents({ token: t.service, after, limit: 1000 }), 200);
        const ids = body.events.map((event) => BigInt(event.id));
        expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        after = body.nextCursor ?? after;
        if (body.events.length < 1000) break;
      }
      const account = await newAccount('events');
      await grant(account.id, '4200');
      const next = expectOk(await client().listEvents({ token: t.admin, after }), 200);
      const minted = next.events.find((event) => event.type === 'lot.minted' && event.accountId === account.id);
      expect(minted, JSON.stringify(next.events.map((e) => e.type))).toBeDefined();
      expect(next.nextCursor).not.toBeNull();
      const empty = expectOk(await client().listEvents({ token: t.service, after: next.nextCursor ?? '' }), 200);
      expect(empty.events.filter((event) => event.accountId === account.id)).toEqual([]);
    });

    it('events are for services and admins only; bad cursors are 400', async () => {
      const t = await tokens();
      expectError(await client().listEvents({ token: t.user }), 401, 'wrong_audience');
      expectError(await client().listEvents({ token: t.service, after: '!!' }), 400, 'validation_failed');
      expectError(await client().listEvents({ token: t.service, after: 'abc' }), 400, 'invalid_cursor');
      expectError(await client().listEvents({ token: t.service, limit: 0 }), 400, 'validation_failed');
    });
  });

  describe('ledger: payments', () => {
    it('GET /v1/payments lists payment records newest first for admins; one is read by id; unknown ids are 404', async () => {
      const t = await tokens();
      const page = expectOk(await client().listPayments({ token: t.admin, limit: 5 }), 200);
      expect(page.payments.length).toBeLessThanOrEqual(5);
      const times = page.payments.map((payment) => Date.parse(payment.createdAt));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      const first = page.payments[0];
      if (first !== undefined) {
        expect(expectOk(await client().getPayment(first.id, { token: t.admin }), 200).reference).toBe(first.reference);
      }
      for (const status of ['credited', 'failed'] as const) {
        const filtered = expectOk(await client().listPayments({ token: t.admin, status }), 200);
        for (const payment of filtered.payments) expect(payment.status).toBe(status);
      }
      expectError(await client().getPayment('pay_contract_unknown', { token: t.admin }), 404, 'payment_not_found');
    });

    it('payments are for admins only; a bad status or cursor is 400', async () => {
      const t = await tokens();
      expectError(await client().listPayments({ token: t.user }), 401, 'wrong_audience');
      expectError(await client().listPayments({ token: t.service }), 401, 'wrong_audience');
      expectError(await client().listPayments({ token: t.admin, status: 'paid' }), 400, 'validation_failed');
      expectError(await client().listPayments({ token: t.admin, cursor: '!!' }), 400, 'validation_failed');
    });
  });

  describeMeterContract(context);
}
