import { describe, expect, it } from 'vitest';
import { LedgerError } from '../errors.js';
import { GatewayRequestError } from './errors.js';
import { gatewayLedger } from './gateway-ledger.js';
import { cannedFetch } from './test-kit.js';
import type { GatewayFetch } from './transport.js';
import { gatewayResponseBytesMax } from './transport.js';

const baseUrl = 'http://gateway.test';

async function failureOf(promise: Promise<unknown>): Promise<GatewayRequestError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayRequestError);
    expect(error).not.toBeInstanceOf(LedgerError);
    return error as GatewayRequestError;
  }
  throw new Error('expected a rejection');
}

const client = (fetch: GatewayFetch, timeoutMs?: number) =>
  gatewayLedger({ baseUrl, token: 't', fetch, ...(timeoutMs === undefined ? {} : { timeoutMs }) });

const hold = {
  id: 'res_1',
  accountId: 'acc_1',
  poolId: 'general',
  amountMicro: '1000',
  status: 'pending',
  billingMode: 'live',
  expiresAt: '2026-03-01T10:05:00.000Z',
  createdAt: '2026-03-01T10:00:00.000Z',
  resolvedAt: null,
  actualCostMicro: null,
  chargedMicro: null,
  overrunMicro: null,
  uncollectedMicro: null,
  meterId: 'chat',
  meterVersion: 2,
  usage: null,
  lots: [{ lotId: 'lot_1', amountMicro: '1000' }],
};
const balance = {
  accountId: 'acc_1',
  availableMicro: '0',
  reservedMicro: '1000',
  debtMicro: '0',
  pools: [{ poolId: 'general', availableMicro: '0', reservedMicro: '1000' }],
  asOf: '2026-03-01T10:00:00.000Z',
};

describe('gateway answers that are not ledger errors', () => {
  it.each([
    [401, 'token_expired', 'the token expired'],
    [401, 'wrong_audience', 'expected arrakis-internal'],
    [403, 'terms_not_allowed', 'a user token reserves through a meter only'],
    [403, 'identity_anchor_required', 'needs an anchor'],
    [403, 'insufficient_scope', 'needs pricing:admin'],
    [400, 'validation_failed', 'invalid body'],
    [429, 'rate_limited', 'slow down'],
    [503, 'dependency_unavailable', 'retry later'],
  ])('%i %s → GatewayRequestError with code, status and details', async (status, code, message) => {
    const details = { reason: 'test' };
    const error = await failureOf(
      client(cannedFetch(status, { error: code, message, details })).reserve({ accountId: 'acc_1', meterId: 'chat' }),
    );
    expect(error).toMatchObject({ code, status, details, method: 'POST', path: '/v1/reservations' });
    expect(error.message).toBe(`POST /v1/reservations: ${message}`);
  });

  it('a 500 keeps its request id; an error status without the error body is http_error', async () => {
    const internal = await failureOf(
      client(cannedFetch(500, { error: 'internal_error', message: 'quote the id', requestId: 'req_9' })).getBalance(
        'acc_1',
      ),
    );
    expect(internal).toMatchObject({ code: 'internal_error', status: 500, details: { requestId: 'req_9' } });
    const proxy = await failureOf(client(cannedFetch(502, '<html>Bad Gateway</html>')).getBalance('acc_1'));
    expect(proxy).toMatchObject({ code: 'http_error', status: 502 });
    const odd = await failureOf(client(cannedFetch(418, { error: 'Not A Code', message: 'x' })).getBalance('acc_1'));
    expect(odd.code).toBe('http_error');
  });

  it('a fetch that throws is a network_error carrying the cause', async () => {
    const cause = new TypeError('fetch failed');
    const error = await failureOf(
      client(() => {
        throw cause;
      }).getBalance('acc_1'),
    );
    expect(error).toMatchObject({ code: 'network_error', status: null, cause });
  });

  it('no answer within timeoutMs is a timeout (the request signal aborts)', async () => {
    let signal: AbortSignal | undefined;
    const hanging: GatewayFetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        signal = init.signal ?? undefined;
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const error = await failureOf(client(hanging, 20).getBalance('acc_1'));
    expect(error).toMatchObject({ code: 'timeout', status: null });
    expect(signal?.aborted).toBe(true);
  });
});

describe('malformed success answers are malformed_response, naming the field', () => {
  it.each([
    ['a field missing', { ...hold, balance, meterVersion: undefined }, 'body.meterVersion'],
    ['a non-canonical amount', { ...hold, balance, amountMicro: '1e3' }, 'body.amountMicro'],
    ['a negative amount', { ...hold, balance, amountMicro: '-5' }, 'body.amountMicro'],
    ['a number for an amount', { ...hold, balance, amountMicro: 1000 }, 'body.amountMicro'],
    ['a bad time', { ...hold, balance, expiresAt: 'tomorrow' }, 'body.expiresAt'],
    ['an unknown status', { ...hold, balance, status: 'paused' }, 'body.status'],
    ['meterVersion without meterId', { ...hold, balance, meterId: null }, 'body.meterVersion'],
    ['a bad usage unit', { ...hold, balance, usage: { request: 'one' } }, 'body.usage.request'],
    ['a bad lot', { ...hold, balance, lots: [{ lotId: 'lot_1' }] }, 'body.lots[0].amountMicro'],
    ['a balance missing', hold, 'body.balance'],
    [
      'a bad pool balance',
      { ...hold, balance: { ...balance, pools: [{ poolId: 'general' }] } },
      'body.balance.pools[0].availableMicro',
    ],
  ])('%s', async (_name, body, path) => {
    const error = await failureOf(client(cannedFetch(201, body)).reserve({ accountId: 'acc_1', meterId: 'chat' }));
    expect(error).toMatchObject({ code: 'malformed_response', status: 201, details: { path } });
  });

  it('decodes the well-formed answer the cases above break', async () => {
    const result = await client(cannedFetch(201, { ...hold, balance, extraField: 'ignored' })).reserve({
      accountId: 'acc_1',
      meterId: 'chat',
    });
    expect(result.reservation).toMatchObject({ amountMicro: 1000n, meterVersion: 2, lots: [{ amountMicro: 1000n }] });
    expect(result.reservation.expiresAt).toEqual(new Date('2026-03-01T10:05:00.000Z'));
  });

  it('finalize: shares must sum to the charge, pricing lines to the subtotal, id to the reservation', async () => {
    const charged = {
      ...hold,
      status: 'finalized',
      actualCostMicro: '10',
      chargedMicro: '10',
      overrunMicro: '0',
      uncollectedMicro: '0',
    };
    const shares = { commons: '1', community: '1', foundation: '6', referrer: '0', treasury: '2' };
    const distribution = {
      id: 'dist_1',
      kind: 'charge',
      reservationId: 'res_1',
      accountId: 'acc_1',
      reversesId: null,
      lotId: null,
      amountMicro: '10',
      ruleId: 'rule_1',
      ruleVersion: 1,
      ruleSchemaVersion: 1,
      shares,
      referrerAccountId: null,
      createdAt: '2026-03-01T10:00:01.000Z',
    };
    const line = { dimension: 'request', units: '1', priceMicro: '10', perUnits: '1', amountMicro: '10' };
    const pricing = {
      meterId: 'chat',
      meterVersion: 2,
      lines: [line],
      subtotalMicro: '10',
      totalMicro: '10',
      capped: false,
    };
    const answer = {
      id: 'res_1',
      status: 'finalized',
      actualCostMicro: '10',
      chargedMicro: '10',
      releasedMicro: '990',
      overrunMicro: '0',
      uncollectedMicro: '0',
      distribution,
      pricing,
      reservation: charged,
      balance,
    };
    const finalize = (body: unknown) =>
      client(cannedFetch(200, body)).finalize({ reservationId: 'res_1', usage: { request: 1 } });
    const good = await finalize(answer);
    expect(good).toMatchObject({
      chargedMicro: 10n,
      releasedMicro: 990n,
      pricing: { totalMicro: 10n, lines: [{ units: 1n }] },
    });
    expect(good.distribution?.shares.foundation).toBe(6n);
    const broken: [unknown, string][] = [
      [
        { ...answer, distribution: { ...distribution, shares: { ...shares, treasury: '3' } } },
        'body.distribution.shares',
      ],
      [
        { ...answer, distribution: { ...distribution, shares: { ...shares, treasury: undefined } } },
        'body.distribution.shares.treasury',
      ],
      [{ ...answer, pricing: { ...pricing, subtotalMicro: '11', totalMicro: '11' } }, 'body.pricing.lines'],
      [{ ...answer, pricing: { ...pricing, capped: true } }, 'body.pricing.totalMicro'],
      [{ ...answer, id: 'res_2' }, 'body.id'],
      [{ ...answer, pricing: undefined }, 'body.pricing'],
    ];
    for (const [body, path] of broken) {
      expect((await failureOf(finalize(body))).details, path).toMatchObject({ path });
    }
  });

  it('not JSON, an unexpected success status, or an answer over the size limit', async () => {
    expect((await failureOf(client(cannedFetch(200, 'not json')).getBalance('acc_1'))).code).toBe('malformed_response');
    const wrongStatus = await failureOf(
      client(cannedFetch(200, { ...hold, balance })).reserve({ accountId: 'a', meterId: 'm' }),
    );
    expect(wrongStatus).toMatchObject({ code: 'malformed_response', status: 200 });
    const huge = 'x'.repeat(gatewayResponseBytesMax + 1);
    expect((await failureOf(client(cannedFetch(200, huge)).getBalance('acc_1'))).code).toBe('malformed_response');
    const declared = cannedFetch(200, balance, { 'content-length': String(gatewayResponseBytesMax + 1) });
    expect((await failureOf(client(declared).getBalance('acc_1'))).message).toMatch(/exceeds/);
  });
});
