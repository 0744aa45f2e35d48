// Helpers the gateway contract cases share (not exported from the package).
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { GatewayClient, GatewayResult } from './http-client.js';
import type { BalanceBody, EntryBody } from './schemas.js';

/** Pages (of 200 entries) `stateOf` reads at most. */
export const contractEntryPagesMax = 20;

/**
 * The body of a success answer with `status` (fails the test otherwise).
 *
 * @throws {Error} when the answer is not that status.
 * @example
 * const account = expectOk(await client.createAccount(body, { token }), 201);
 */
export function expectOk<T>(result: GatewayResult<T>, status: number): T {
  expect(result.status, JSON.stringify(result.body)).toBe(status);
  if (!result.ok) throw new Error(`expected ${status}, got ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

/**
 * Checks an error answer: its status, its stable code and a non-empty message.
 *
 * @example
 * expectError(await client.getAccount('x', { token }), 404, 'account_not_found');
 */
export function expectError(result: GatewayResult<unknown>, status: number, code: string): void {
  expect(result.status, JSON.stringify(result.body)).toBe(status);
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(result.body.error).toBe(code);
    expect(result.body.message.length).toBeGreaterThan(0);
  }
}

/**
 * A unique name for a contract run (`ct-<label>-<uuid>`), so the cases can run again against a long-lived gateway.
 *
 * @example
 * const entityId = unique('alice');
 */
export const unique = (label: string): string => `ct-${label}-${randomUUID()}`;

/**
 * An account's balance (without `asOf`) and every entry: what a refused request must leave untouched.
 *
 * @example
 * const before = await stateOf(client, token, accountId);
 */
export async function stateOf(
  client: GatewayClient,
  token: string,
  accountId: string,
): Promise<{ balance: Omit<BalanceBody, 'asOf'>; entries: EntryBody[] }> {
  const { asOf: _asOf, ...balance } = expectOk(await client.getBalance(accountId, { token }), 200);
  const entries: EntryBody[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < contractEntryPagesMax; page += 1) {
    const body = expectOk(await client.listEntries(accountId, { token, cursor, limit: 200 }), 200);
    entries.push(...body.entries);
    if (body.nextCursor === null) break;
    cursor = body.nextCursor;
  }
  return { balance, entries };
}
