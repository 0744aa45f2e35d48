DROP INDEX "entries_distribution_idx";--> statement-breakpoint
DROP INDEX "entries_revenue_time_idx";--> statement-breakpoint
DROP INDEX "entries_lot_idx";--> statement-breakpoint
CREATE INDEX "entries_lot_idx" ON "entries" USING btree ("lot_id") WHERE "entries"."lot_id" is not null;