/**
 * `@arrakis/billing-ledger/money`: micro-USD helpers — the one wire parser, USD decimal conversion by string
 * arithmetic, and the one basis-point split.
 */
export type { MicroBounds } from './micro.js';
export { amountMicroMax, formatMicro, microPerUsd, parseMicro, wireAmountLengthMax } from './micro.js';
export { bpsTotal, splitBps, splitPartsMax } from './split.js';
export { microToUsd, usdStringLengthMax, usdToMicro } from './usd.js';
