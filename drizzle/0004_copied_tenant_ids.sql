ALTER TABLE "audit_events" DROP CONSTRAINT "audit_events_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "execution_data_keys" DROP CONSTRAINT "execution_data_keys_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "execution_logs" DROP CONSTRAINT "execution_logs_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "execution_steps" DROP CONSTRAINT "execution_steps_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "execution_transitions" DROP CONSTRAINT "execution_transitions_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "policy_decisions" DROP CONSTRAINT "policy_decisions_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "receipts" DROP CONSTRAINT "receipts_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "task_results" DROP CONSTRAINT "task_results_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "tenant_spend_minutes" DROP CONSTRAINT "tenant_spend_minutes_tenant_id_tenants_id_fk";
