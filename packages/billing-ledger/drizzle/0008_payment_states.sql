ALTER TABLE "payments" ADD COLUMN "status" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "pay_to" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "nonce" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "valid_before" numeric(78, 0);--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "price_micro" bigint;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "credits_micro" bigint;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "bonus_bps" integer;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "lot_ttl_ms" bigint;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "request" jsonb;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "transaction" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "failure_code" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "failure_message" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "reconcile_after" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "updated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "credited_at" timestamp with time zone;--> statement-breakpoint
-- Hand-written: every payment recorded before this migration was credited in the transaction that recorded it
-- (its lot and response were written with it), so it becomes `credited` at its creation time; the pack terms it was
-- bought on are read back from its stored response (`encodeStored` of the purchase result), the lot and the amount
-- standing in only if a response lacks them.
UPDATE "payments" p SET
  "status" = 'credited',
  "updated_at" = p."created_at",
  "credited_at" = p."created_at",
  "price_micro" = coalesce((p."response" #>> '{pack,priceMicro,$bigint}')::bigint, p."amount_micro"),
  "credits_micro" = coalesce(
    (p."response" #>> '{pack,creditsMicro,$bigint}')::bigint,
    (select l."original_micro" from "lots" l where l."id" = p."lot_id"),
    p."amount_micro"),
  "bonus_bps" = coalesce((p."response" #>> '{pack,bonusBps}')::integer, 0),
  "lot_ttl_ms" = (p."response" #>> '{pack,lotTtlMs}')::bigint,
  "transaction" = p."settlement" ->> 'transaction';--> statement-breakpoint
ALTER TABLE "payments" ALTER COLUMN "status" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ALTER COLUMN "price_micro" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ALTER COLUMN "credits_micro" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ALTER COLUMN "bonus_bps" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ALTER COLUMN "updated_at" SET NOT NULL;--> statement-breakpoint
CREATE INDEX "payments_due_idx" ON "payments" USING btree ("reconcile_after") WHERE "payments"."reconcile_after" is not null;--> statement-breakpoint
CREATE INDEX "payments_status_created_idx" ON "payments" USING btree ("status","created_at","id");--> statement-breakpoint
CREATE INDEX "payments_created_idx" ON "payments" USING btree ("created_at","id");--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_status_valid" CHECK (status in ('verified', 'settling', 'settled', 'credited', 'failed'));--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_terms_positive" CHECK ("payments"."price_micro" > 0 and "payments"."credits_micro" >= "payments"."price_micro");--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_amount_covers_price" CHECK ("payments"."amount_micro" >= "payments"."price_micro");--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_bonus_bps_range" CHECK ("payments"."bonus_bps" between 0 and 10000);--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_lot_ttl_positive" CHECK ("payments"."lot_ttl_ms" is null or "payments"."lot_ttl_ms" > 0);--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_valid_before_nonnegative" CHECK ("payments"."valid_before" is null or "payments"."valid_before" >= 0);--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_attempts_nonnegative" CHECK ("payments"."attempts" >= 0);--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_failure_pair" CHECK (("payments"."failure_code" is null) = ("payments"."failure_message" is null));--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_failed_has_failure" CHECK ("payments"."status" <> 'failed' or "payments"."failure_code" is not null);--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_settled_has_transaction" CHECK ("payments"."status" <> 'settled' or "payments"."transaction" is not null);--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_credited_shape" CHECK (("payments"."status" = 'credited') = ("payments"."credited_at" is not null) and ("payments"."status" <> 'credited' or ("payments"."lot_id" is not null and "payments"."response" is not null and "payments"."reconcile_after" is null)));--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_lot_iff_credited" CHECK (("payments"."status" = 'credited') = ("payments"."lot_id" is not null));--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_open_is_due" CHECK ("payments"."status" not in ('verified', 'settling', 'settled') or "payments"."reconcile_after" is not null);