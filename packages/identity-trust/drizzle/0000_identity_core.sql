CREATE TABLE "identity_anchor_audit" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "identity_anchor_audit_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account_id" text NOT NULL,
	"action" text NOT NULL,
	"actor" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"rotation_id" text,
	"old_anchor_prefix" text,
	"new_anchor_prefix" text,
	"requested_by" text,
	"requested_at" timestamp with time zone,
	CONSTRAINT "identity_anchor_audit_action" CHECK (action in ('anchor_bound', 'rotation_requested', 'rotation_approved')),
	CONSTRAINT "identity_anchor_audit_old_prefix" CHECK (old_anchor_prefix is null or old_anchor_prefix ~ '^[0-9a-f]{8}$'),
	CONSTRAINT "identity_anchor_audit_new_prefix" CHECK (new_anchor_prefix is null or new_anchor_prefix ~ '^[0-9a-f]{8}$')
);
--> statement-breakpoint
CREATE TABLE "identity_anchor_rotations" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"status" text NOT NULL,
	"from_anchor" text NOT NULL,
	"from_epoch" integer NOT NULL,
	"to_anchor" text NOT NULL,
	"to_chain_id" numeric(78, 0) NOT NULL,
	"to_contract_address" text NOT NULL,
	"to_token_id" numeric(78, 0) NOT NULL,
	"to_owner_address" text NOT NULL,
	"reason" text,
	"requested_by" text NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"approved_by" text,
	"approved_at" timestamp with time zone,
	CONSTRAINT "identity_anchor_rotations_status" CHECK (status in ('pending', 'approved', 'expired')),
	CONSTRAINT "identity_anchor_rotations_from_format" CHECK (from_anchor ~ '^sha256:[0-9a-f]{64}$'),
	CONSTRAINT "identity_anchor_rotations_to_format" CHECK (to_anchor ~ '^sha256:[0-9a-f]{64}$'),
	CONSTRAINT "identity_anchor_rotations_contract_format" CHECK (to_contract_address ~ '^0x[0-9a-fA-F]{40}$'),
	CONSTRAINT "identity_anchor_rotations_owner_format" CHECK (to_owner_address ~ '^0x[0-9a-fA-F]{40}$'),
	CONSTRAINT "identity_anchor_rotations_chain_range" CHECK (to_chain_id >= 0 and to_chain_id < 2::numeric ^ 256),
	CONSTRAINT "identity_anchor_rotations_token_range" CHECK (to_token_id >= 0 and to_token_id < 2::numeric ^ 256),
	CONSTRAINT "identity_anchor_rotations_epoch_positive" CHECK ("identity_anchor_rotations"."from_epoch" >= 1),
	CONSTRAINT "identity_anchor_rotations_changes_anchor" CHECK ("identity_anchor_rotations"."to_anchor" <> "identity_anchor_rotations"."from_anchor"),
	CONSTRAINT "identity_anchor_rotations_expiry" CHECK ("identity_anchor_rotations"."expires_at" > "identity_anchor_rotations"."requested_at"),
	CONSTRAINT "identity_anchor_rotations_four_eyes" CHECK ("identity_anchor_rotations"."approved_by" is null or "identity_anchor_rotations"."approved_by" <> "identity_anchor_rotations"."requested_by"),
	CONSTRAINT "identity_anchor_rotations_approval" CHECK (("identity_anchor_rotations"."status" = 'approved') = ("identity_anchor_rotations"."approved_by" is not null and "identity_anchor_rotations"."approved_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "identity_anchors" (
	"account_id" text PRIMARY KEY NOT NULL,
	"anchor" text NOT NULL,
	"chain_id" numeric(78, 0) NOT NULL,
	"contract_address" text NOT NULL,
	"token_id" numeric(78, 0) NOT NULL,
	"owner_address" text NOT NULL,
	"epoch" integer DEFAULT 1 NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "identity_anchors_anchor_format" CHECK (anchor ~ '^sha256:[0-9a-f]{64}$'),
	CONSTRAINT "identity_anchors_contract_format" CHECK (contract_address ~ '^0x[0-9a-fA-F]{40}$'),
	CONSTRAINT "identity_anchors_owner_format" CHECK (owner_address ~ '^0x[0-9a-fA-F]{40}$'),
	CONSTRAINT "identity_anchors_chain_range" CHECK (chain_id >= 0 and chain_id < 2::numeric ^ 256),
	CONSTRAINT "identity_anchors_token_range" CHECK (token_id >= 0 and token_id < 2::numeric ^ 256),
	CONSTRAINT "identity_anchors_epoch_positive" CHECK ("identity_anchors"."epoch" >= 1)
);
--> statement-breakpoint
CREATE INDEX "identity_anchor_audit_account_idx" ON "identity_anchor_audit" USING btree ("account_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "identity_anchor_rotations_one_pending_uq" ON "identity_anchor_rotations" USING btree ("account_id") WHERE "identity_anchor_rotations"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "identity_anchor_rotations_account_idx" ON "identity_anchor_rotations" USING btree ("account_id","requested_at");--> statement-breakpoint
CREATE UNIQUE INDEX "identity_anchors_anchor_uq" ON "identity_anchors" USING btree ("anchor");--> statement-breakpoint
CREATE UNIQUE INDEX "identity_anchors_nft_uq" ON "identity_anchors" USING btree ("chain_id",lower("contract_address"),"token_id");