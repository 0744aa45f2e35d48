import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger } from '../ledger/ledger.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import { execRows } from './ledger-db.js';
import { accounts } from './schema.js';

const databaseUrl = process.env.DATABASE_URL;

describe.skipIf(!databaseUrl)('the Postgres ledger database (needs DATABASE_URL)', () => {
  let handle: TestLedgerDbHandle;
  beforeAll(async () => {
    // One connection: the session whose prepared statements the test reads is the one drizzle ran on.
    handle = await openTestLedgerDb({ max: 1 });
  });
  afterAll(() => handle.close());

  const preparedTexts = async () =>
    (await execRows<{ statement: string }>(handle.db, sql`select statement from pg_prepared_statements`)).map(
      (row) => row.statement,
    );

  it('prepares the statements drizzle builds (one round trip each after the first), outside and inside transactions', async () => {
    const ledger = createLedger({ db: handle.db });
    const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'prepared-reads' });
    const byId = () => handle.db.select().from(accounts).where(eq(accounts.id, account.id));
    expect(await byId()).toHaveLength(1);
    const selectText = (await preparedTexts()).filter(
      (text) => text.startsWith('select') && text.includes('"accounts"'),
    );
    expect(selectText).toHaveLength(1);
    // The same text again reuses the statement; a transaction's drizzle statements are prepared too.
    expect(await byId()).toHaveLength(1);
    await handle.db.transaction(async (tx) => {
      await tx.select({ id: accounts.id }).from(accounts).where(eq(accounts.entityId, 'prepared-reads'));
      await tx.transaction(async (nested) => {
        await nested.select({ n: sql<number>`count(*)` }).from(accounts).where(eq(accounts.entityType, 'user'));
      });
    });
    const texts = await preparedTexts();
    expect(texts.filter((text) => text === selectText[0])).toHaveLength(1);
    expect(texts.some((text) => text.includes('"entity_id" = $1'))).toBe(true);
    expect(texts.some((text) => text.includes('count(*)') && text.includes('"entity_type" = $1'))).toBe(true);
  });

  it('keeps statements without parameters out of the prepared set (simple queries)', async () => {
    const before = (await preparedTexts()).length;
    await handle.db.execute(sql`select 1 as one`);
    expect((await preparedTexts()).length).toBe(before);
  });
});
