/**
 * Model-based test of revenue rule governance on Postgres (needs DATABASE_URL): the property of
 * `rules-model-property.ts` on fresh databases of that server. Env: RULES_MODEL_RUNS (default 100),
 * RULES_MODEL_SEED / RULES_MODEL_PATH to replay.
 */
import { describe } from 'vitest';
import { describeRulesModel } from './rules-model-property.js';

const databaseUrl = process.env.DATABASE_URL;

describe.skipIf(!databaseUrl)('revenue rules model test on Postgres (needs DATABASE_URL)', () => {
  describeRulesModel('Postgres', databaseUrl);
});
