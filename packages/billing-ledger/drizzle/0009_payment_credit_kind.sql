-- Hand-written: a payment now buys a credit pack (kind 'pack', as every payment did before) or plain credit of an
-- amount its caller names (kind 'credit', no pack). Every existing record is a pack purchase: the column is added
-- with the default 'pack' so they get it, then the default is dropped, so a new record always states its kind.
ALTER TABLE "payments" ADD COLUMN "kind" text DEFAULT 'pack' NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ALTER COLUMN "kind" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "payments" ALTER COLUMN "pack_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_kind_valid" CHECK (kind in ('pack', 'credit'));--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_kind_terms" CHECK (("payments"."kind" = 'pack') = ("payments"."pack_id" is not null) and ("payments"."kind" <> 'credit' or ("payments"."credits_micro" = "payments"."price_micro" and "payments"."bonus_bps" = 0 and "payments"."lot_ttl_ms" is null)));
