/**
 * Model-based test on PGlite: random command sequences on the ledger and on the reference model, compared step by
 * step, `verify()` after every step (see `ledger-model-property.ts`). The same property runs on Postgres in
 * `ledger.model.pg.test.ts`. Env: LEDGER_MODEL_RUNS (default 40), LEDGER_MODEL_SEED / LEDGER_MODEL_PATH to replay.
 */
import { describeLedgerModel } from './ledger-model-property.js';

describeLedgerModel('PGlite', undefined);
