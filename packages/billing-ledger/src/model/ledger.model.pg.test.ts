/**
 * Model-based test on Postgres (needs DATABASE_URL): the property of `ledger-model-property.ts` on fresh databases
 * of that server. Env: LEDGER_MODEL_RUNS (default 40), LEDGER_MODEL_SEED / LEDGER_MODEL_PATH to replay.
 */
import { describe } from 'vitest';
import { describeLedgerModel } from './ledger-model-property.js';

const databaseUrl = process.env.DATABASE_URL;

describe.skipIf(!databaseUrl)('model test on Postgres (needs DATABASE_URL)', () => {
  describeLedgerModel('Postgres', databaseUrl);
});
