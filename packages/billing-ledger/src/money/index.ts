/**
 * `@arrakis/billing-ledger/money`: micro-USD helpers — the one wire parser, USD decimal conversion by string
 * arithmetic, and the one basis-point split.
 */
export { amountMicroMax, splitPartsMax, usdStringLengthMax, wireAmountLengthMax } from '../limits.js';
export type { MicroBounds } from './micro.js';
export { formatMicro, microPerUsd, parseMicro } from './micro.js';
export { bpsTotal, splitBps } from './split.js';
export { microToUsd, usdToMicro } from './usd.js';
