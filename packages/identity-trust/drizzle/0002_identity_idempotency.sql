CREATE TABLE "identity_idempotency_keys" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"response" text,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "identity_idempotency_keys_scope_key_pk" PRIMARY KEY("scope","key"),
	CONSTRAINT "identity_idempotency_keys_hash_format" CHECK (request_hash ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "identity_idempotency_keys_expiry" CHECK ("identity_idempotency_keys"."expires_at" > "identity_idempotency_keys"."created_at")
);
--> statement-breakpoint
CREATE INDEX "identity_idempotency_keys_expiry_idx" ON "identity_idempotency_keys" USING btree ("expires_at");