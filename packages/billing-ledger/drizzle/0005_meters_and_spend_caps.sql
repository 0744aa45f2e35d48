CREATE TABLE "meters" (
	"id" text NOT NULL,
	"version" integer NOT NULL,
	"pool_id" text NOT NULL,
	"billing_mode" text NOT NULL,
	"hold_micro" bigint NOT NULL,
	"max_cost_micro" bigint,
	"ttl_seconds" integer,
	"unit_prices" jsonb NOT NULL,
	"effective_at" timestamp with time zone NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "meters_id_version_pk" PRIMARY KEY("id","version"),
	CONSTRAINT "meters_version_positive" CHECK ("meters"."version" >= 1),
	CONSTRAINT "meters_mode_valid" CHECK (billing_mode in ('live', 'soft', 'shadow')),
	CONSTRAINT "meters_hold_positive" CHECK ("meters"."hold_micro" > 0),
	CONSTRAINT "meters_hold_within_cap" CHECK ("meters"."max_cost_micro" is null or "meters"."max_cost_micro" >= "meters"."hold_micro"),
	CONSTRAINT "meters_ttl_positive" CHECK ("meters"."ttl_seconds" is null or "meters"."ttl_seconds" > 0),
	CONSTRAINT "meters_prices_array" CHECK (jsonb_typeof("meters"."unit_prices") = 'array' and jsonb_array_length("meters"."unit_prices") > 0)
);
--> statement-breakpoint
CREATE TABLE "spend_caps" (
	"account_id" text PRIMARY KEY NOT NULL,
	"daily_cap_micro" bigint,
	"monthly_cap_micro" bigint,
	"updated_by" text NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "spend_caps_positive" CHECK (coalesce("spend_caps"."daily_cap_micro", 1) > 0 and coalesce("spend_caps"."monthly_cap_micro", 1) > 0)
);
--> statement-breakpoint
DROP INDEX "reservations_account_idx";--> statement-breakpoint
ALTER TABLE "reservations" ADD COLUMN "meter_id" text;--> statement-breakpoint
ALTER TABLE "reservations" ADD COLUMN "meter_version" integer;--> statement-breakpoint
ALTER TABLE "reservations" ADD COLUMN "usage" jsonb;--> statement-breakpoint
ALTER TABLE "spend_caps" ADD CONSTRAINT "spend_caps_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_meter_id_meter_version_meters_id_version_fk" FOREIGN KEY ("meter_id","meter_version") REFERENCES "public"."meters"("id","version") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "reservations_account_time_idx" ON "reservations" USING btree ("account_id","created_at");--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_meter_pair" CHECK (("reservations"."meter_id" is null) = ("reservations"."meter_version" is null));--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_usage_metered" CHECK ("reservations"."usage" is null or "reservations"."meter_id" is not null);