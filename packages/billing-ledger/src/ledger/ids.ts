import { randomUUID } from 'node:crypto';

/**
 * A new id with a readable prefix: `acc_…`, `lot_…`, `res_…`, `dst_…`, `pay_…`, `rule_…` (32 hex characters of a random UUID).
 *
 * @example
 * newId('lot'); // 'lot_3f2a…'
 */
export function newId(prefix: 'acc' | 'lot' | 'res' | 'dst' | 'pay' | 'rule'): string {
  return `${prefix}_${randomUUID().replaceAll('-', '')}`;
}
