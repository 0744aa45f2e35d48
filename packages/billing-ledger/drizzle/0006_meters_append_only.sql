-- Custom migration (drizzle-kit generate --custom): a meter version is a fact, like a journal entry. Any UPDATE,
-- DELETE or TRUNCATE of "meters" fails with SQLSTATE 23001 (restrict_violation), 'meters is append-only'; a price
-- change is a new version.
CREATE TRIGGER "meters_append_only"
  BEFORE UPDATE OR DELETE ON "meters"
  FOR EACH ROW EXECUTE FUNCTION "ledger_append_only"();
--> statement-breakpoint
CREATE TRIGGER "meters_append_only_truncate"
  BEFORE TRUNCATE ON "meters"
  FOR EACH STATEMENT EXECUTE FUNCTION "ledger_append_only"();
