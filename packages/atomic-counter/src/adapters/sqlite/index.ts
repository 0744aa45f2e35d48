export type { SqliteBackendOptions, SqliteCounterBackend } from './sqlite-backend.js';
export {
  sqliteBackend,
  sqliteBusyTimeoutMs,
  sqlitePurgeIntervalMsDefault,
  sqlitePurgeRowsMax,
  sqliteTableNameDefault,
  sqliteTableNameLengthMax,
} from './sqlite-backend.js';
