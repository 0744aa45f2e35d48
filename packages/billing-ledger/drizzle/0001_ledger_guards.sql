-- Custom migration (drizzle-kit generate --custom): guards and seed rows the schema cannot express.
-- The journal is append-only: any UPDATE, DELETE or TRUNCATE of "entries" fails with
-- SQLSTATE 23001 (restrict_violation) and the message 'entries are append-only'.
CREATE FUNCTION "ledger_entries_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'entries are append-only'
    USING ERRCODE = 'restrict_violation',
          DETAIL = format('%s on "entries" is not allowed', TG_OP);
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "entries_append_only"
  BEFORE UPDATE OR DELETE ON "entries"
  FOR EACH ROW EXECUTE FUNCTION "ledger_entries_append_only"();
--> statement-breakpoint
CREATE TRIGGER "entries_append_only_truncate"
  BEFORE TRUNCATE ON "entries"
  FOR EACH STATEMENT EXECUTE FUNCTION "ledger_entries_append_only"();
--> statement-breakpoint
-- The platform's system accounts (DESIGN.md §3): revenue splits credit these.
INSERT INTO "accounts" ("id", "entity_type", "entity_id", "debt_micro", "created_at") VALUES
  ('acc_system_foundation', 'system', 'foundation', 0, now()),
  ('acc_system_commons', 'system', 'commons', 0, now()),
  ('acc_system_community', 'system', 'community', 0, now()),
  ('acc_system_treasury', 'system', 'treasury', 0, now())
ON CONFLICT ("id") DO NOTHING;
