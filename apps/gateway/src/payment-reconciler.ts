// The payment reconciler of the gateway: resolves the payment records left half-way (a crash between the
// settlement and the mint, an RPC outage, a slow chain) from what the chain says, on every instance safely.
import type { Ledger } from '@arrakis/billing-ledger';
import {
  ledgerPaymentStore,
  microUsdDecimals,
  type ReconcileReport,
  reconcileBatchSizeMax,
  reconcilePayments,
} from '@arrakis/x402';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createGatewayPayments, type GatewayPayments } from './payments.js';
import type { PaymentsConfig } from './payments-config.js';
import { paymentStatusValues } from './routes/payments.js';
import { startTicker, type Ticker } from './ticker.js';

/** Most reconciler batches in one tick (then the next tick goes on). */
export const reconcileBatchesPerTickMax = 10;

/** The reconciler's Prometheus metrics. */
export interface PaymentReconcilerMetrics {
  /** `payment_reconciler_runs_total{result}`: ticks, `ok` or `error`. */
  runs: Counter<'result'>;
  /** `payment_reconciler_payments_total{outcome}`: records resolved by outcome (credited, resettled, failed, postponed). */
  outcomes: Counter<'outcome'>;
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

/**
 * Registers the payment metrics in `registry` (reusing them when present): the reconciler's counters and the gauge
 * `payments{status}`, read from the ledger (`countPaymentsByStatus`) on each scrape; a failed read keeps the last
 * values.
 *
 * @example
 * const metrics = registerPaymentMetrics(registry, ledger, logger);
 */
export function registerPaymentMetrics(
  registry: Registry,
  ledger: Pick<Ledger, 'countPaymentsByStatus'>,
  logger: Logger,
): PaymentReconcilerMetrics {
  if (existing(registry, 'payments') === undefined) {
    new Gauge({
      name: 'payments',
      help: 'Payment records by state (verified, settling, settled, credited, failed).',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        try {
          const counts = await ledger.countPaymentsByStatus();
          for (const status of paymentStatusValues) this.set({ status }, counts[status] ?? 0);
        } catch (error) {
          logger.warn({ err: error }, 'payments gauge: the ledger could not be read; keeping the last values');
        }
      },
    });
  }
  const runs =
    existing<Counter<'result'>>(registry, 'payment_reconciler_runs_total') ??
    new Counter({
      name: 'payment_reconciler_runs_total',
      help: 'Payment reconciler ticks, by result (ok, error).',
      labelNames: ['result'] as const,
      registers: [registry],
    });
  const outcomes =
    existing<Counter<'outcome'>>(registry, 'payment_reconciler_payments_total') ??
    new Counter({
      name: 'payment_reconciler_payments_total',
      help: 'Payment records the reconciler resolved, by outcome (credited, resettled, failed, postponed).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
  return { runs, outcomes };
}

/** Options of {@link startPaymentReconciler}. */
export interface PaymentReconcilerOptions {
  ledger: Ledger;
  payments: GatewayPayments;
  metrics: PaymentReconcilerMetrics;
  logger: Logger;
  /** Milliseconds between ticks; 0 starts no timer (`runOnce` still works). */
  intervalMs: number;
}

/** A running reconciler. */
export interface PaymentReconciler {
  /** Runs one tick now (after the running one) and answers its totals. */
  runOnce(): Promise<ReconcileReport>;
  stop(): Promise<void>;
}

function add(total: ReconcileReport, report: ReconcileReport): void {
  total.examined += report.examined;
  total.credited += report.credited;
  total.resettled += report.resettled;
  total.failed += report.failed;
  total.postponed += report.postponed;
}

/**
 * Runs `reconcilePayments` on the ledger's payment records every `intervalMs`, in batches until one comes back
 * short (at most {@link reconcileBatchesPerTickMax}). Safe with any number of instances: the ledger hands each due
 * record to one of them (`FOR UPDATE SKIP LOCKED` and a lease). A tick never overlaps the previous one; a failing
 * tick is logged (warn) and counted, and the next one runs as usual.
 *
 * @example
 * const reconciler = startPaymentReconciler({ ledger, payments, metrics, logger, intervalMs: 15_000 });
 * await reconciler.stop();
 */
export function startPaymentReconciler(options: PaymentReconcilerOptions): PaymentReconciler {
  const { ledger, payments, metrics, logger, intervalMs } = options;
  const store = ledgerPaymentStore(ledger);
  let ticker: Ticker<ReconcileReport> | undefined;

  async function tick(): Promise<ReconcileReport> {
    const total: ReconcileReport = { examined: 0, credited: 0, resettled: 0, failed: 0, postponed: 0 };
    try {
      for (let batch = 0; batch < reconcileBatchesPerTickMax && ticker?.stopped !== true; batch += 1) {
        const report = await reconcilePayments({
          store,
          resolver: payments.resolver,
          facilitator: payments.facilitator,
          leaseMs: payments.settlement.leaseMs,
          retryInMs: payments.settlement.retryMs,
        });
        add(total, report);
        if (report.examined < reconcileBatchSizeMax) break;
      }
      metrics.runs.inc({ result: 'ok' });
    } catch (error) {
      metrics.runs.inc({ result: 'error' });
      logger.warn({ err: error }, 'payment reconciler failed; it runs again next tick');
    }
    for (const outcome of ['credited', 'resettled', 'failed', 'postponed'] as const) {
      const count = outcome === 'credited' ? total.credited - total.resettled : total[outcome];
      if (count > 0) metrics.outcomes.inc({ outcome }, count);
    }
    if (total.examined > 0) logger.info({ reconciler: 'payments', ...total }, 'payment reconciler pass');
    return total;
  }

  ticker = startTicker(intervalMs, tick);
  return { runOnce: ticker.runOnce, stop: ticker.stop };
}

/**
 * Builds the payment parts and checks the token on chain before the gateway serves: its `decimals()` must be
 * {@link microUsdDecimals} (an 18-decimal token would sell packs for almost nothing).
 *
 * @throws {Error} with the reason when the token has other decimals or `X402_RPC_URL` cannot be read.
 * @example
 * const payments = config.payments.enabled ? await preparePayments(config.payments, clock) : undefined;
 */
export async function preparePayments(
  config: Extract<PaymentsConfig, { enabled: true }>,
  clock: GatewayPayments['clock'],
): Promise<GatewayPayments> {
  const payments = createGatewayPayments(config, clock);
  let decimals: number;
  try {
    decimals = await payments.resolver.decimals(config.asset);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`X402_ASSET ${config.asset}: decimals() could not be read through X402_RPC_URL (${reason})`, {
      cause: error,
    });
  }
  if (decimals !== microUsdDecimals) {
    throw new Error(
      `X402_ASSET ${config.asset} has ${decimals} decimals; payments need a ${microUsdDecimals}-decimal token (one unit = one micro-USD), or packs would sell for the wrong amount`,
    );
  }
  return payments;
}
