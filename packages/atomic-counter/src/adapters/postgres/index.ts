export type { PostgresBackendOptions, PostgresCounterBackend } from './postgres-backend.js';
export {
  postgresBackend,
  postgresConnectionsMaxDefault,
  postgresPurgeIntervalMsDefault,
  postgresPurgeRowsMax,
  postgresSchemaNameLengthMax,
  postgresTableNameDefault,
  postgresTableNameLengthMax,
} from './postgres-backend.js';
