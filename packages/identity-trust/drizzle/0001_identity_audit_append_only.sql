-- Custom migration (drizzle-kit generate --custom): the anchor audit is append-only. Any UPDATE, DELETE or
-- TRUNCATE of "identity_anchor_audit" fails with SQLSTATE 23001 (restrict_violation) and the message
-- 'identity_anchor_audit is append-only'.
CREATE FUNCTION "identity_anchor_audit_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'identity_anchor_audit is append-only'
    USING ERRCODE = 'restrict_violation',
          DETAIL = format('%s on "identity_anchor_audit" is not allowed', TG_OP);
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "identity_anchor_audit_append_only"
  BEFORE UPDATE OR DELETE ON "identity_anchor_audit"
  FOR EACH ROW EXECUTE FUNCTION "identity_anchor_audit_append_only"();
--> statement-breakpoint
CREATE TRIGGER "identity_anchor_audit_append_only_truncate"
  BEFORE TRUNCATE ON "identity_anchor_audit"
  FOR EACH STATEMENT EXECUTE FUNCTION "identity_anchor_audit_append_only"();
