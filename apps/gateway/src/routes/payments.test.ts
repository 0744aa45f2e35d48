import { randomBytes } from 'node:crypto';
import { paymentStatuses } from '@arrakis/x402';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPaymentMetrics } from '../payment-reconciler.js';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';
import { paymentStatusValues } from './payments.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

type PaymentBody = Record<string, unknown> & { id: string; reference: string; status: string };

describe(`GET /v1/payments on ${backend}`, () => {
  let f: LedgerAppFixture;
  let accountId: string;
  const references: Record<'credited' | 'failed' | 'settling', string> = { credited: '', failed: '', settling: '' };

  function newReference(): string {
    return `eip155:31337:0x${'a'.repeat(40)}:0x${'b'.repeat(40)}:0x${randomBytes(32).toString('hex')}`;
  }

  async function claim(reference: string): Promise<void> {
    f.clock.advance(1_000); // distinct creation times: the list is newest first
    const pack = f.ledger.listCreditPacks().find((candidate) => candidate.id === 'starter');
    if (pack === undefined) throw new Error('the default catalog has a starter pack');
    const answer = await f.ledger.claimPayment({
      accountId,
      packId: 'starter',
      payment: {
        reference,
        payer: `0x${'b'.repeat(40)}`,
        amountMicro: pack.priceMicro,
        network: 'eip155:31337',
        asset: `0x${'a'.repeat(40)}`,
        payTo: `0x${'c'.repeat(40)}`,
        nonce: reference.slice(-66),
        validBefore: BigInt(Math.floor(Date.now() / 1000) + 300),
      },
    });
    expect(answer.kind).toBe('owner');
  }

  beforeAll(async () => {
    f = await makeLedgerAppFixture();
    accountId = await f.createAccount('user', `payer-${randomBytes(4).toString('hex')}`);
    references.credited = newReference();
    await claim(references.credited);
    await f.ledger.markPaymentSettling(references.credited);
    await f.ledger.recordPaymentSettlement(references.credited, { transaction: `0x${'d'.repeat(64)}` });
    await f.ledger.creditPayment(references.credited);
    references.failed = newReference();
    await claim(references.failed);
    await f.ledger.failPayment(
      references.failed,
      { code: 'insufficient_funds', message: 'payer holds 0' },
      { watchUntil: null },
    );
    references.settling = newReference();
    await claim(references.settling);
    await f.ledger.markPaymentSettling(references.settling);
  });
  afterAll(async () => {
    await f.close();
  });

  async function list(query: string, token = f.tokens.reader) {
    const response = await f.get(`/v1/payments${query}`, { token });
    expect(response.status).toBe(200);
    return (await response.json()) as { payments: PaymentBody[]; nextCursor: string | null };
  }

  it('lists newest first with state, transaction and lot; filters by status; pages with the cursor', async () => {
    const all = await list('');
    expect(all.payments.map((p) => p.reference)).toEqual([references.settling, references.failed, references.credited]);
    const credited = all.payments[2];
    expect(credited).toMatchObject({
      status: 'credited',
      accountId,
      packId: 'starter',
      transaction: `0x${'d'.repeat(64)}`,
      lotId: expect.any(String),
      failure: null,
      reconcileAfter: null,
      creditedAt: expect.any(String),
    });
    expect(all.payments[1]).toMatchObject({
      status: 'failed',
      lotId: null,
      failure: { code: 'insufficient_funds', message: 'payer holds 0' },
    });
    expect(all.payments[0]).toMatchObject({ status: 'settling', attempts: 1, reconcileAfter: expect.any(String) });

    expect((await list('?status=failed')).payments.map((p) => p.reference)).toEqual([references.failed]);
    const first = await list('?limit=2');
    expect(first.payments).toHaveLength(2);
    const rest = await list(`?limit=2&cursor=${first.nextCursor}`);
    expect([...first.payments, ...rest.payments].map((p) => p.id)).toEqual(all.payments.map((p) => p.id));
    expect(rest.nextCursor).toBeNull();
  });

  it('reads one payment by id or by reference; 404 payment_not_found; 400 on a bad status or cursor', async () => {
    const [latest] = (await list('?limit=1')).payments;
    const byId = await f.get(`/v1/payments/${latest?.id}`, { token: f.tokens.admin });
    expect(byId.status).toBe(200);
    const byReference = await f.get(`/v1/payments/${encodeURIComponent(references.credited)}`, {
      token: f.tokens.reader,
    });
    expect(((await byReference.json()) as PaymentBody).status).toBe('credited');
    expect(((await byId.json()) as PaymentBody).reference).toBe(references.settling);
    await errorOf(await f.get('/v1/payments/pay_nope', { token: f.tokens.reader }), 404, 'payment_not_found');
    await errorOf(await f.get('/v1/payments?status=paid', { token: f.tokens.reader }), 400, 'validation_failed');
    await errorOf(await f.get('/v1/payments?cursor=garbage!', { token: f.tokens.reader }), 400, 'validation_failed');
  });

  it('is for admins with a read scope only', async () => {
    expect((await f.get('/v1/payments', { token: f.tokens.adminNoScope })).status).toBe(403);
    expect((await f.get('/v1/payments', { token: f.tokens.service })).status).toBe(401);
    const { token } = await f.user('curious');
    expect((await f.get('/v1/payments', { token })).status).toBe(401);
  });

  it('exports payments{status} read from the ledger, one series per state', async () => {
    const registry = new Registry();
    registerPaymentMetrics(registry, f.ledger, pino({ level: 'silent' }));
    const text = await registry.metrics();
    expect(text).toContain('payments{status="credited"} 1');
    expect(text).toContain('payments{status="failed"} 1');
    expect(text).toContain('payments{status="settling"} 1');
    expect(text).toContain('payments{status="verified"} 0');
  });

  it("lists the same states as the x402 port's paymentStatuses", () => {
    expect([...paymentStatusValues]).toEqual([...paymentStatuses]);
  });
});
