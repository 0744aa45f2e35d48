ALTER TABLE "x402_payments" ADD COLUMN "status" text DEFAULT 'verified' NOT NULL;--> statement-breakpoint
ALTER TABLE "x402_payments" ADD COLUMN "request" jsonb;--> statement-breakpoint
ALTER TABLE "x402_payments" ADD COLUMN "failure_code" text;--> statement-breakpoint
ALTER TABLE "x402_payments" ADD COLUMN "failure_message" text;--> statement-breakpoint
ALTER TABLE "x402_payments" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "x402_payments" ADD COLUMN "reconcile_after" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "x402_payments" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "x402_payments" ADD COLUMN "credited_at" timestamp with time zone;--> statement-breakpoint
-- Hand-written: rows of the one-phase claim store were committed with their settlement and effect, so they are
-- credited. (A row without a settlement cannot exist; should one, it is left verified and due now.)
UPDATE "x402_payments" SET "status" = 'credited', "credited_at" = "created_at", "updated_at" = "created_at" WHERE "settlement" IS NOT NULL;--> statement-breakpoint
UPDATE "x402_payments" SET "reconcile_after" = now(), "updated_at" = "created_at" WHERE "settlement" IS NULL;--> statement-breakpoint
CREATE INDEX "x402_payments_due_idx" ON "x402_payments" USING btree ("reconcile_after") WHERE "x402_payments"."reconcile_after" is not null;--> statement-breakpoint
ALTER TABLE "x402_payments" ADD CONSTRAINT "x402_payments_status" CHECK ("x402_payments"."status" in ('verified', 'settling', 'settled', 'credited', 'failed'));--> statement-breakpoint
ALTER TABLE "x402_payments" ADD CONSTRAINT "x402_payments_credited_settlement" CHECK ("x402_payments"."status" <> 'credited' or "x402_payments"."settlement" is not null);--> statement-breakpoint
ALTER TABLE "x402_payments" ADD CONSTRAINT "x402_payments_settled_settlement" CHECK ("x402_payments"."status" <> 'settled' or "x402_payments"."settlement" is not null);--> statement-breakpoint
ALTER TABLE "x402_payments" ADD CONSTRAINT "x402_payments_failed_reason" CHECK ("x402_payments"."status" <> 'failed' or "x402_payments"."failure_code" is not null);--> statement-breakpoint
ALTER TABLE "x402_payments" ADD CONSTRAINT "x402_payments_attempts_nonnegative" CHECK ("x402_payments"."attempts" >= 0);