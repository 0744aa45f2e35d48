CREATE TABLE "x402_payments" (
	"reference" text PRIMARY KEY NOT NULL,
	"network" text NOT NULL,
	"asset" text NOT NULL,
	"payer" text NOT NULL,
	"nonce" text NOT NULL,
	"pay_to" text NOT NULL,
	"amount_atomic" numeric(78, 0) NOT NULL,
	"valid_before" numeric(78, 0) NOT NULL,
	"x402_version" smallint NOT NULL,
	"signature" text NOT NULL,
	"transaction" text,
	"settlement" jsonb,
	"result" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "x402_payments_amount_positive" CHECK ("x402_payments"."amount_atomic" > 0),
	CONSTRAINT "x402_payments_version" CHECK ("x402_payments"."x402_version" in (1, 2)),
	CONSTRAINT "x402_payments_nonce_format" CHECK ("x402_payments"."nonce" ~ '^0x[0-9a-f]{64}$'),
	CONSTRAINT "x402_payments_reference_format" CHECK ("x402_payments"."reference" = "x402_payments"."network" || ':' || "x402_payments"."asset" || ':' || "x402_payments"."payer" || ':' || "x402_payments"."nonce")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "x402_payments_authorization_key" ON "x402_payments" USING btree ("network","asset","payer","nonce");--> statement-breakpoint
CREATE INDEX "x402_payments_payer_idx" ON "x402_payments" USING btree ("payer","created_at");