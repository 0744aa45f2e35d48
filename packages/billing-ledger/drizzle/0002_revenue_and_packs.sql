CREATE TABLE "distributions" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"reservation_id" text NOT NULL,
	"account_id" text NOT NULL,
	"reverses_id" text,
	"lot_id" text,
	"amount_micro" bigint NOT NULL,
	"rule_id" text NOT NULL,
	"rule_version" integer NOT NULL,
	"rule_schema_version" integer NOT NULL,
	"commons_micro" bigint NOT NULL,
	"community_micro" bigint NOT NULL,
	"foundation_micro" bigint NOT NULL,
	"referrer_micro" bigint NOT NULL,
	"treasury_micro" bigint NOT NULL,
	"referrer_account_id" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "distributions_kind_valid" CHECK (kind in ('charge', 'reversal')),
	CONSTRAINT "distributions_amount_positive" CHECK ("distributions"."amount_micro" > 0),
	CONSTRAINT "distributions_shares_nonnegative" CHECK ("distributions"."commons_micro" >= 0 and "distributions"."community_micro" >= 0 and "distributions"."foundation_micro" >= 0 and "distributions"."referrer_micro" >= 0 and "distributions"."treasury_micro" >= 0),
	CONSTRAINT "distributions_shares_sum" CHECK ("distributions"."commons_micro" + "distributions"."community_micro" + "distributions"."foundation_micro" + "distributions"."referrer_micro" + "distributions"."treasury_micro" = "distributions"."amount_micro"),
	CONSTRAINT "distributions_reversal_shape" CHECK (("distributions"."kind" = 'charge') = ("distributions"."reverses_id" is null) and ("distributions"."kind" = 'charge') = ("distributions"."lot_id" is null)),
	CONSTRAINT "distributions_referrer_account" CHECK ("distributions"."referrer_micro" = 0 or "distributions"."referrer_account_id" is not null)
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"id" text PRIMARY KEY NOT NULL,
	"reference" text NOT NULL,
	"account_id" text NOT NULL,
	"pack_id" text NOT NULL,
	"payer" text NOT NULL,
	"amount_micro" bigint NOT NULL,
	"network" text,
	"asset" text,
	"lot_id" text,
	"settlement" jsonb,
	"response" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "payments_amount_positive" CHECK ("payments"."amount_micro" > 0)
);
--> statement-breakpoint
CREATE TABLE "referral_attributions" (
	"account_id" text PRIMARY KEY NOT NULL,
	"referrer_account_id" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	CONSTRAINT "referral_not_self" CHECK ("referral_attributions"."account_id" <> "referral_attributions"."referrer_account_id")
);
--> statement-breakpoint
CREATE TABLE "revenue_rule_audit" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "revenue_rule_audit_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"rule_id" text NOT NULL,
	"actor" text NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"reason" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "revenue_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"version" integer GENERATED ALWAYS AS IDENTITY (sequence name "revenue_rules_version_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"schema_version" integer NOT NULL,
	"name" text NOT NULL,
	"notes" text,
	"status" text NOT NULL,
	"commons_bps" integer NOT NULL,
	"community_bps" integer NOT NULL,
	"foundation_bps" integer NOT NULL,
	"referrer_bps" integer DEFAULT 0 NOT NULL,
	"treasury_bps" integer DEFAULT 0 NOT NULL,
	"proposed_by" text NOT NULL,
	"submitted_by" text,
	"submitted_at" timestamp with time zone,
	"approved_by" text,
	"approved_at" timestamp with time zone,
	"rejected_by" text,
	"rejected_at" timestamp with time zone,
	"emergency_by" text,
	"emergency_reason" text,
	"activates_at" timestamp with time zone,
	"activated_at" timestamp with time zone,
	"superseded_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "revenue_rules_status_valid" CHECK (status in ('draft', 'pending_approval', 'cooling_down', 'active', 'superseded', 'rejected')),
	CONSTRAINT "revenue_rules_schema_valid" CHECK ("revenue_rules"."schema_version" in (1, 2)),
	CONSTRAINT "revenue_rules_bps_range" CHECK ("revenue_rules"."commons_bps" between 0 and 10000 and "revenue_rules"."community_bps" between 0 and 10000 and "revenue_rules"."foundation_bps" between 0 and 10000 and "revenue_rules"."referrer_bps" between 0 and 10000 and "revenue_rules"."treasury_bps" between 0 and 10000),
	CONSTRAINT "revenue_rules_bps_sum" CHECK ("revenue_rules"."commons_bps" + "revenue_rules"."community_bps" + "revenue_rules"."foundation_bps" + "revenue_rules"."referrer_bps" + "revenue_rules"."treasury_bps" = 10000),
	CONSTRAINT "revenue_rules_schema1_fields" CHECK ("revenue_rules"."schema_version" = 2 or ("revenue_rules"."referrer_bps" = 0 and "revenue_rules"."treasury_bps" = 0)),
	CONSTRAINT "revenue_rules_four_eyes" CHECK ("revenue_rules"."approved_by" is null or "revenue_rules"."approved_by" <> "revenue_rules"."proposed_by"),
	CONSTRAINT "revenue_rules_emergency_distinct" CHECK ("revenue_rules"."emergency_by" is null or ("revenue_rules"."emergency_by" <> "revenue_rules"."proposed_by" and "revenue_rules"."emergency_by" <> "revenue_rules"."approved_by" and "revenue_rules"."emergency_reason" is not null))
);
--> statement-breakpoint
ALTER TABLE "entries" DROP CONSTRAINT "entries_from_bucket_valid";--> statement-breakpoint
ALTER TABLE "entries" DROP CONSTRAINT "entries_to_bucket_valid";--> statement-breakpoint
ALTER TABLE "entries" ALTER COLUMN "available_after_micro" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "entries" ADD COLUMN "distribution_id" text;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_reservation_id_reservations_id_fk" FOREIGN KEY ("reservation_id") REFERENCES "public"."reservations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_lot_id_lots_id_fk" FOREIGN KEY ("lot_id") REFERENCES "public"."lots"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_rule_id_revenue_rules_id_fk" FOREIGN KEY ("rule_id") REFERENCES "public"."revenue_rules"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_referrer_account_id_accounts_id_fk" FOREIGN KEY ("referrer_account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_lot_id_lots_id_fk" FOREIGN KEY ("lot_id") REFERENCES "public"."lots"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referral_attributions" ADD CONSTRAINT "referral_attributions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referral_attributions" ADD CONSTRAINT "referral_attributions_referrer_account_id_accounts_id_fk" FOREIGN KEY ("referrer_account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "revenue_rule_audit" ADD CONSTRAINT "revenue_rule_audit_rule_id_revenue_rules_id_fk" FOREIGN KEY ("rule_id") REFERENCES "public"."revenue_rules"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "distributions_charge_uq" ON "distributions" USING btree ("reservation_id") WHERE "distributions"."kind" = 'charge';--> statement-breakpoint
CREATE INDEX "distributions_reverses_idx" ON "distributions" USING btree ("reverses_id") WHERE "distributions"."reverses_id" is not null;--> statement-breakpoint
CREATE INDEX "distributions_time_idx" ON "distributions" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_reference_uq" ON "payments" USING btree ("reference");--> statement-breakpoint
CREATE INDEX "payments_account_idx" ON "payments" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "revenue_rule_audit_rule_idx" ON "revenue_rule_audit" USING btree ("rule_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "revenue_rules_version_uq" ON "revenue_rules" USING btree ("version");--> statement-breakpoint
CREATE UNIQUE INDEX "revenue_rules_one_active_uq" ON "revenue_rules" USING btree ("status") WHERE "revenue_rules"."status" = 'active';--> statement-breakpoint
CREATE INDEX "revenue_rules_due_idx" ON "revenue_rules" USING btree ("activates_at") WHERE "revenue_rules"."status" = 'cooling_down';--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_distribution_id_distributions_id_fk" FOREIGN KEY ("distribution_id") REFERENCES "public"."distributions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "entries_distribution_idx" ON "entries" USING btree ("distribution_id") WHERE "entries"."distribution_id" is not null;--> statement-breakpoint
CREATE INDEX "entries_revenue_time_idx" ON "entries" USING btree ("created_at") WHERE "entries"."kind" = 'distribute';--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_available_after_iff_credit" CHECK (("entries"."kind" = 'distribute') = ("entries"."available_after_micro" is null));--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_distribution_shape" CHECK (("entries"."kind" = 'distribute') = ("entries"."distribution_id" is not null and "entries"."rule_id" is not null and "entries"."lot_id" is null));--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_from_bucket_valid" CHECK (from_bucket in ('external', 'available', 'reserved', 'consumed', 'expired', 'refunded', 'revenue'));--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_to_bucket_valid" CHECK (to_bucket in ('external', 'available', 'reserved', 'consumed', 'expired', 'refunded', 'revenue'));