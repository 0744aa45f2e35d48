CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"debt_micro" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "accounts_debt_nonnegative" CHECK ("accounts"."debt_micro" >= 0)
);
--> statement-breakpoint
CREATE TABLE "entries" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "entries_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account_id" text NOT NULL,
	"lot_id" text,
	"reservation_id" text,
	"kind" text NOT NULL,
	"amount_micro" bigint NOT NULL,
	"from_bucket" text NOT NULL,
	"to_bucket" text NOT NULL,
	"available_after_micro" bigint NOT NULL,
	"rule_id" text,
	"rule_version" integer,
	"rule_schema_version" integer,
	"memo" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "entries_amount_positive" CHECK ("entries"."amount_micro" > 0),
	CONSTRAINT "entries_kind_valid" CHECK (kind in ('mint', 'reserve', 'release', 'consume', 'expire_lot', 'expire_hold', 'refund', 'distribute', 'adjust')),
	CONSTRAINT "entries_from_bucket_valid" CHECK (from_bucket in ('external', 'available', 'reserved', 'consumed', 'expired', 'refunded')),
	CONSTRAINT "entries_to_bucket_valid" CHECK (to_bucket in ('external', 'available', 'reserved', 'consumed', 'expired', 'refunded')),
	CONSTRAINT "entries_buckets_differ" CHECK ("entries"."from_bucket" <> "entries"."to_bucket")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"type" text NOT NULL,
	"account_id" text,
	"subject_id" text NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_scope_key_pk" PRIMARY KEY("scope","key")
);
--> statement-breakpoint
CREATE TABLE "lots" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"pool_id" text DEFAULT 'general' NOT NULL,
	"source_type" text NOT NULL,
	"source_id" text,
	"original_micro" bigint NOT NULL,
	"available_micro" bigint NOT NULL,
	"reserved_micro" bigint DEFAULT 0 NOT NULL,
	"consumed_micro" bigint DEFAULT 0 NOT NULL,
	"expired_micro" bigint DEFAULT 0 NOT NULL,
	"refunded_micro" bigint DEFAULT 0 NOT NULL,
	"expires_at" timestamp with time zone,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "lots_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "lots_original_positive" CHECK ("lots"."original_micro" > 0),
	CONSTRAINT "lots_buckets_nonnegative" CHECK ("lots"."available_micro" >= 0 and "lots"."reserved_micro" >= 0 and "lots"."consumed_micro" >= 0 and "lots"."expired_micro" >= 0 and "lots"."refunded_micro" >= 0),
	CONSTRAINT "lots_buckets_sum" CHECK ("lots"."available_micro" + "lots"."reserved_micro" + "lots"."consumed_micro" + "lots"."expired_micro" + "lots"."refunded_micro" = "lots"."original_micro")
);
--> statement-breakpoint
CREATE TABLE "reservation_lots" (
	"reservation_id" text NOT NULL,
	"lot_id" text NOT NULL,
	"position" integer NOT NULL,
	"amount_micro" bigint NOT NULL,
	CONSTRAINT "reservation_lots_reservation_id_position_pk" PRIMARY KEY("reservation_id","position"),
	CONSTRAINT "reservation_lots_amount_positive" CHECK ("reservation_lots"."amount_micro" > 0),
	CONSTRAINT "reservation_lots_position_nonnegative" CHECK ("reservation_lots"."position" >= 0)
);
--> statement-breakpoint
CREATE TABLE "reservations" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"pool_id" text NOT NULL,
	"amount_micro" bigint NOT NULL,
	"status" text NOT NULL,
	"billing_mode" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone,
	"actual_cost_micro" bigint,
	"charged_micro" bigint,
	"overrun_micro" bigint,
	"uncollected_micro" bigint,
	CONSTRAINT "reservations_amount_positive" CHECK ("reservations"."amount_micro" > 0),
	CONSTRAINT "reservations_status_valid" CHECK (status in ('pending', 'finalized', 'released', 'expired')),
	CONSTRAINT "reservations_mode_valid" CHECK (billing_mode in ('live', 'soft', 'shadow')),
	CONSTRAINT "reservations_resolved_iff_terminal" CHECK (("reservations"."status" = 'pending') = ("reservations"."resolved_at" is null)),
	CONSTRAINT "reservations_finalize_amounts_nonnegative" CHECK (coalesce("reservations"."actual_cost_micro", 0) >= 0 and coalesce("reservations"."charged_micro", 0) >= 0 and coalesce("reservations"."overrun_micro", 0) >= 0 and coalesce("reservations"."uncollected_micro", 0) >= 0)
);
--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_lot_id_lots_id_fk" FOREIGN KEY ("lot_id") REFERENCES "public"."lots"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_reservation_id_reservations_id_fk" FOREIGN KEY ("reservation_id") REFERENCES "public"."reservations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lots" ADD CONSTRAINT "lots_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservation_lots" ADD CONSTRAINT "reservation_lots_reservation_id_reservations_id_fk" FOREIGN KEY ("reservation_id") REFERENCES "public"."reservations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservation_lots" ADD CONSTRAINT "reservation_lots_lot_id_lots_id_fk" FOREIGN KEY ("lot_id") REFERENCES "public"."lots"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_entity_uq" ON "accounts" USING btree ("entity_type","entity_id");--> statement-breakpoint
CREATE INDEX "entries_account_id_idx" ON "entries" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "entries_lot_idx" ON "entries" USING btree ("lot_id");--> statement-breakpoint
CREATE INDEX "events_account_idx" ON "events" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "idempotency_keys_expiry_idx" ON "idempotency_keys" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "lots_source_uq" ON "lots" USING btree ("source_type","source_id") WHERE "lots"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "lots_seq_uq" ON "lots" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "lots_account_pool_idx" ON "lots" USING btree ("account_id","pool_id");--> statement-breakpoint
CREATE UNIQUE INDEX "reservation_lots_lot_uq" ON "reservation_lots" USING btree ("reservation_id","lot_id");--> statement-breakpoint
CREATE INDEX "reservations_pending_expiry_idx" ON "reservations" USING btree ("expires_at") WHERE "reservations"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "reservations_account_idx" ON "reservations" USING btree ("account_id");