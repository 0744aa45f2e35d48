-- Custom migration (drizzle-kit generate --custom): guards and seed rows the schema cannot express.
-- The revenue rule audit trail is append-only: any UPDATE, DELETE or TRUNCATE of "revenue_rule_audit" fails with
-- SQLSTATE 23001 (restrict_violation) and the message 'revenue_rule_audit is append-only'.
CREATE FUNCTION "ledger_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation',
          DETAIL = format('%s on "%s" is not allowed', TG_OP, TG_TABLE_NAME);
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "revenue_rule_audit_append_only"
  BEFORE UPDATE OR DELETE ON "revenue_rule_audit"
  FOR EACH ROW EXECUTE FUNCTION "ledger_append_only"();
--> statement-breakpoint
CREATE TRIGGER "revenue_rule_audit_append_only_truncate"
  BEFORE TRUNCATE ON "revenue_rule_audit"
  FOR EACH STATEMENT EXECUTE FUNCTION "ledger_append_only"();
--> statement-breakpoint
-- Distributions are facts like entries: never updated or deleted.
CREATE TRIGGER "distributions_append_only"
  BEFORE UPDATE OR DELETE ON "distributions"
  FOR EACH ROW EXECUTE FUNCTION "ledger_append_only"();
--> statement-breakpoint
CREATE TRIGGER "distributions_append_only_truncate"
  BEFORE TRUNCATE ON "distributions"
  FOR EACH STATEMENT EXECUTE FUNCTION "ledger_append_only"();
--> statement-breakpoint
-- The initial revenue rule (DESIGN.md §3, issue 4): commons 500, community 7000, foundation 2500 bps, schema 1,
-- active from the first migration (in force since the epoch, so any later activation supersedes it whatever the
-- clock), with its audit row and outbox event.
INSERT INTO "revenue_rules" ("id", "schema_version", "name", "notes", "status", "commons_bps", "community_bps",
  "foundation_bps", "referrer_bps", "treasury_bps", "proposed_by", "activates_at", "activated_at", "created_at")
VALUES ('rule_initial', 1, 'initial', 'seeded by migration 0003', 'active', 500, 7000, 2500, 0, 0, 'system',
  '1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z', now())
ON CONFLICT ("id") DO NOTHING;
--> statement-breakpoint
INSERT INTO "revenue_rule_audit" ("rule_id", "actor", "from_status", "to_status", "reason", "created_at")
VALUES ('rule_initial', 'system', NULL, 'active', 'seeded by migration', now());
--> statement-breakpoint
INSERT INTO "events" ("type", "account_id", "subject_id", "payload", "created_at")
VALUES ('revenue_rule.activated', NULL, 'rule_initial',
  '{"ruleId":"rule_initial","version":1,"schemaVersion":1,"commonsBps":500,"communityBps":7000,"foundationBps":2500,"referrerBps":0,"treasuryBps":0,"reason":"seeded by migration"}'::jsonb,
  now());
