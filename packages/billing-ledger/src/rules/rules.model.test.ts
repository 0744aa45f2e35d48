/**
 * Model-based test of revenue rule governance on PGlite: random command sequences on the ledger and on the reference
 * model, compared step by step (see `rules-model-property.ts`). The same property runs on Postgres in
 * `rules.model.pg.test.ts`. Env: RULES_MODEL_RUNS (default 100), RULES_MODEL_SEED / RULES_MODEL_PATH to replay.
 */
import { describeRulesModel } from './rules-model-property.js';

describeRulesModel('PGlite', undefined);
