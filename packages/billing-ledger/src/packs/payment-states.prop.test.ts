/**
 * Property: random sequences of the two-phase steps (claim, markSettling, recordSettlement, credit, fail, postpone,
 * takeDue, and a claim reusing a reference for the other kind of purchase) over 1–3 payments, each buying a pack or
 * plain credit of a random amount, with an advancing clock follow a tiny reference model of the states, and whatever
 * the order: at most one purchase lot per payment, `credited` is absorbing (same lot forever), a reused reference is
 * refused and changes nothing, the credits minted equal the sum of the credited payments' credits, and every account
 * holds exactly what its payment credited.
 */
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LedgerKit, openLedgerKit } from '../ledger/test-kit.js';
import type { PaymentClaimInput, PaymentStatus } from '../types.js';

/** The pack's price and credits, and the amount every payment carries. */
const creditsMicro = 5_000_000n;

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit({ creditPacks: [{ id: 'starter', priceMicro: creditsMicro, bonusBps: 0 }] });
});
afterAll(() => kit.close());

type Op =
  | { op: 'claim'; ref: number; leaseMs: number }
  | { op: 'claimOther'; ref: number }
  | { op: 'markSettling'; ref: number }
  | { op: 'recordSettlement'; ref: number }
  | { op: 'credit'; ref: number }
  | { op: 'fail'; ref: number; watchMs: number | null }
  | { op: 'postpone'; ref: number; retryMs: number }
  | { op: 'takeDue'; leaseMs: number }
  | { op: 'advance'; ms: number };

const opArb = (refs: number): fc.Arbitrary<Op> => {
  const ref = fc.integer({ min: 0, max: refs - 1 });
  const leaseMs = fc.constantFrom(1_000, 60_000);
  return fc.oneof(
    fc.record({ op: fc.constant('claim' as const), ref, leaseMs }),
    fc.record({ op: fc.constant('claimOther' as const), ref }),
    fc.record({ op: fc.constant('markSettling' as const), ref }),
    fc.record({ op: fc.constant('recordSettlement' as const), ref }),
    fc.record({ op: fc.constant('credit' as const), ref }),
    fc.record({ op: fc.constant('fail' as const), ref, watchMs: fc.option(fc.integer({ min: 0, max: 300_000 })) }),
    fc.record({ op: fc.constant('postpone' as const), ref, retryMs: fc.integer({ min: 0, max: 120_000 }) }),
    fc.record({ op: fc.constant('takeDue' as const), leaseMs }),
    fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 200_000 }) }),
  );
};

/** The reference model of one payment record. */
interface ModelPayment {
  status: PaymentStatus;
  reconcileAfterMs: number | null;
  attempts: number;
  lotId: string | null;
}

/** A run's payments: each its own account, reference, validBefore and purchase (null: the pack; else plain credit). */
interface Run {
  accounts: string[];
  references: string[];
  validBefore: bigint[];
  creditMicro: (bigint | null)[];
  model: (ModelPayment | undefined)[];
}

/** What payment `ref` of a run credits: the pack's credits, or its plain credit. */
const creditsOf = (run: Run, ref: number): bigint => run.creditMicro[ref] ?? creditsMicro;

/** The claim of payment `ref`; `other`: the same payment buying the other kind (a pack ↔ plain credit). */
function claimInputOf(run: Run, ref: number, other = false): PaymentClaimInput {
  const payment = {
    reference: run.references[ref] as string,
    payer: '0xpayer',
    amountMicro: creditsMicro,
    validBefore: run.validBefore[ref],
  };
  const accountId = run.accounts[ref] as string;
  const credit = run.creditMicro[ref] ?? null;
  if ((credit === null) !== other) return { accountId, packId: 'starter', payment };
  return { accountId, creditMicro: credit ?? creditsMicro, payment };
}

function expectedClaim(model: ModelPayment | undefined, nowMs: number, validBefore: bigint) {
  if (model === undefined) return 'owner' as const;
  if (model.status === 'credited') return 'credited' as const;
  if (model.status === 'failed') {
    const open = model.reconcileAfterMs !== null && validBefore > BigInt(Math.floor(nowMs / 1000));
    return open ? ('owner' as const) : ('failed' as const);
  }
  return model.reconcileAfterMs !== null && model.reconcileAfterMs <= nowMs ? ('owner' as const) : ('busy' as const);
}

async function runClaim(run: Run, ref: number, leaseMs: number): Promise<void> {
  const nowMs = kit.clock.nowMs();
  const model = run.model[ref];
  const expected = expectedClaim(model, nowMs, run.validBefore[ref] as bigint);
  const claim = await kit.ledger.claimPayment(claimInputOf(run, ref), { leaseMs });
  expect(claim.kind).toBe(expected);
  expect(claim.payment.kind).toBe(run.creditMicro[ref] === null ? 'pack' : 'credit');
  if (expected === 'owner') {
    const status = model === undefined || model.status === 'failed' ? 'verified' : model.status;
    run.model[ref] = { status, reconcileAfterMs: nowMs + leaseMs, attempts: model?.attempts ?? 0, lotId: null };
  }
  if (expected === 'credited') expect(claim.result?.lot.id).toBe(model?.lotId);
}

/** A claim of a recorded payment for the other kind of purchase is refused and changes nothing (none: skipped). */
async function runClaimOther(run: Run, ref: number): Promise<void> {
  if (run.model[ref] === undefined) return;
  const reference = run.references[ref] as string;
  const before = await kit.ledger.getPayment(reference);
  await expect(kit.ledger.claimPayment(claimInputOf(run, ref, true))).rejects.toMatchObject({
    code: 'payment_reference_reused',
    details: { reference, conflict: 'pack' },
  });
  expect(await kit.ledger.getPayment(reference)).toEqual(before);
}

/** Applies a step the model says changes a record that is not credited (unknown: `payment_not_found`). */
async function runStep(
  run: Run,
  op: Exclude<Op, { op: 'claim' | 'claimOther' | 'takeDue' | 'advance' }>,
): Promise<void> {
  const nowMs = kit.clock.nowMs();
  const reference = run.references[op.ref] as string;
  const model = run.model[op.ref];
  const failure = { code: 'test_failure', message: `${op.op} at ${nowMs}` };
  const call = () => {
    if (op.op === 'markSettling') return kit.ledger.markPaymentSettling(reference);
    if (op.op === 'recordSettlement')
      return kit.ledger.recordPaymentSettlement(reference, { transaction: `0x${nowMs}` });
    if (op.op === 'credit') return kit.ledger.creditPayment(reference).then((r) => ({ lotId: r.lot.id }));
    if (op.op === 'fail') {
      const watchUntil = op.watchMs === null ? null : new Date(nowMs + op.watchMs);
      return kit.ledger.failPayment(reference, failure, { watchUntil });
    }
    return kit.ledger.postponePayment(reference, failure, { retryAt: new Date(nowMs + op.retryMs) });
  };
  if (model === undefined) {
    await expect(call()).rejects.toMatchObject({ code: 'payment_not_found' });
    return;
  }
  const answer = await call();
  if (model.status === 'credited') {
    expect(answer.lotId).toBe(model.lotId); // absorbing: nothing changes it
    return;
  }
  if (op.op === 'markSettling' && model.status === 'verified') {
    model.status = 'settling';
    model.attempts += 1;
  } else if (op.op === 'recordSettlement') {
    model.status = 'settled';
    model.reconcileAfterMs ??= nowMs;
  } else if (op.op === 'credit') {
    Object.assign(model, { status: 'credited', reconcileAfterMs: null, lotId: answer.lotId });
  } else if (op.op === 'fail' && model.status === 'settled') {
    // The chain executed it: it stays settled and due (its credit must not be lost).
    model.reconcileAfterMs = op.watchMs === null ? nowMs : nowMs + op.watchMs;
  } else if (op.op === 'fail') {
    Object.assign(model, { status: 'failed', reconcileAfterMs: op.watchMs === null ? null : nowMs + op.watchMs });
  } else if (op.op === 'postpone') {
    model.reconcileAfterMs = nowMs + op.retryMs;
  }
}

async function runTakeDue(run: Run, leaseMs: number): Promise<void> {
  const nowMs = kit.clock.nowMs();
  const taken = await kit.ledger.takeDuePayments({ limit: 500, leaseMs });
  const due = run.model.flatMap((m, ref) =>
    m !== undefined && m.reconcileAfterMs !== null && m.reconcileAfterMs <= nowMs ? [ref] : [],
  );
  expect(taken.map((p) => p.reference).sort()).toEqual(due.map((ref) => run.references[ref]).sort());
  for (const ref of due) (run.model[ref] as ModelPayment).reconcileAfterMs = nowMs + leaseMs;
}

async function expectRecordsMatchModel(run: Run): Promise<void> {
  for (const [ref, model] of run.model.entries()) {
    if (model === undefined) continue;
    const view = await kit.ledger.getPayment(run.references[ref] as string);
    expect({ status: view.status, attempts: view.attempts, lotId: view.lotId }).toEqual({
      status: model.status,
      attempts: model.attempts,
      lotId: model.lotId,
    });
    expect(view.reconcileAfter?.getTime() ?? null).toBe(model.reconcileAfterMs);
  }
}

/** Money: one purchase lot per credited payment, of its credits, on its account; nothing else. */
async function expectMoneyConserved(run: Run): Promise<void> {
  const creditedRefs = run.model.flatMap((m, ref) => (m?.status === 'credited' ? [ref] : []));
  const credited = creditedRefs.length;
  const mintedMicro = creditedRefs.reduce((sum, ref) => sum + creditsOf(run, ref), 0n);
  const ids = sql.join(
    run.accounts.map((id) => sql`${id}`),
    sql`, `,
  );
  const [row] = await kit.rows<{ lots: string; minted: string; credited: string }>(
    sql`select (select count(*) from lots where source_type = 'purchase' and account_id in (${ids}))::text as lots,
      (select coalesce(sum(original_micro), 0) from lots where account_id in (${ids}))::text as minted,
      (select count(*) from payments where status = 'credited' and account_id in (${ids}))::text as credited`,
  );
  expect(row).toEqual({
    lots: `${credited}`,
    minted: `${mintedMicro}`,
    credited: `${credited}`,
  });
  for (const [ref, accountId] of run.accounts.entries()) {
    const balance = await kit.ledger.getBalance(accountId);
    expect(balance.availableMicro).toBe(run.model[ref]?.status === 'credited' ? creditsOf(run, ref) : 0n);
  }
}

let runs = 0;
async function newRun(refs: number, validBeforeOffsets: number[], creditMicro: (bigint | null)[]): Promise<Run> {
  runs += 1;
  const accounts = await Promise.all(Array.from({ length: refs }, () => kit.account()));
  const nowSeconds = BigInt(Math.floor(kit.clock.nowMs() / 1000));
  return {
    accounts,
    references: accounts.map((_, ref) => `prop:${runs}:${ref}`),
    validBefore: validBeforeOffsets.slice(0, refs).map((offset) => nowSeconds + BigInt(offset)),
    creditMicro: creditMicro.slice(0, refs),
    model: Array.from({ length: refs }, () => undefined),
  };
}

describe('two-phase payments (property)', () => {
  it('follow the model for packs and plain credit; one lot per payment at most; credited is absorbing; minted = Σ credits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }).chain((refs) =>
          fc.tuple(
            fc.constant(refs),
            fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 3, maxLength: 3 }),
            // Per payment: null buys the pack; a bigint buys that much plain credit (≤ the amount paid).
            fc.array(fc.option(fc.bigInt({ min: 1n, max: creditsMicro })), { minLength: 3, maxLength: 3 }),
            fc.array(opArb(refs), { minLength: 1, maxLength: 30 }),
          ),
        ),
        async ([refs, validBeforeOffsets, creditMicro, ops]) => {
          const run = await newRun(refs, validBeforeOffsets, creditMicro);
          for (const op of ops) {
            if (op.op === 'advance') kit.clock.advance(op.ms);
            else if (op.op === 'claim') await runClaim(run, op.ref, op.leaseMs);
            else if (op.op === 'claimOther') await runClaimOther(run, op.ref);
            else if (op.op === 'takeDue') await runTakeDue(run, op.leaseMs);
            else await runStep(run, op);
          }
          await expectRecordsMatchModel(run);
          await expectMoneyConserved(run);
          // Close the run: credit every record (from any state), so no record of it is due in a later run.
          for (const [ref, model] of run.model.entries()) {
            if (model === undefined) continue;
            const result = await kit.ledger.creditPayment(run.references[ref] as string);
            if (model.status === 'credited') expect(result).toMatchObject({ replayed: true, lot: { id: model.lotId } });
            Object.assign(model, { status: 'credited', lotId: result.lot.id, reconcileAfterMs: null });
          }
          await expectMoneyConserved(run);
        },
      ),
      { numRuns: 40 },
    );
    const report = await kit.ledger.verify();
    expect(report.violations).toEqual([]);
    expect(report.counts.payments).toBeGreaterThan(0);
  });
});
