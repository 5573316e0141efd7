CREATE TABLE "tenant_spend_minutes" (
	"tenant_id" uuid NOT NULL,
	"minute" timestamp with time zone NOT NULL,
	"shard" smallint NOT NULL,
	"amount_usd" numeric(14, 4) DEFAULT '0' NOT NULL,
	CONSTRAINT "tenant_spend_minutes_tenant_id_minute_shard_pk" PRIMARY KEY("tenant_id","minute","shard")
);
--> statement-breakpoint
ALTER TABLE "executions" DROP CONSTRAINT "executions_status_check";--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "outcome" text;--> statement-breakpoint
ALTER TABLE "tenant_spend_minutes" ADD CONSTRAINT "tenant_spend_minutes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "executions" ADD CONSTRAINT "executions_outcome_check" CHECK ("executions"."outcome" is null or "executions"."outcome" in ('succeeded','failed','cancelled','rejected','rolled_back'));--> statement-breakpoint
ALTER TABLE "executions" ADD CONSTRAINT "executions_status_check" CHECK ("executions"."status" in ('queued','pending','running','paused','receipt_pending','succeeded','failed','cancelled','rejected','rolled_back'));