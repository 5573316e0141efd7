CREATE TABLE "api_request_minutes" (
	"minute" timestamp with time zone PRIMARY KEY NOT NULL,
	"total" bigint DEFAULT 0 NOT NULL,
	"errors_5xx" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"token_hash" text NOT NULL,
	"token_prefix" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_events_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"ts" timestamp with time zone DEFAULT now() NOT NULL,
	"type" text NOT NULL,
	"actor" jsonb NOT NULL,
	"subject" jsonb NOT NULL,
	"data" jsonb NOT NULL,
	"workflow_id" uuid,
	"execution_id" uuid,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	"partition" integer NOT NULL,
	CONSTRAINT "audit_events_id_unique" UNIQUE("id")
);
--> statement-breakpoint
CREATE TABLE "audit_outbox_cursors" (
	"partition" integer PRIMARY KEY NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"published_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "data_erasures" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"execution_id" uuid NOT NULL,
	"actor_sub" text NOT NULL,
	"reason" text,
	"master_key_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "error_budget_states" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"freeze_active" boolean DEFAULT false NOT NULL,
	"freeze_since" timestamp with time zone,
	"remaining_ratio" numeric(12, 6) NOT NULL,
	"burn_rate_per_hour" numeric(12, 6) NOT NULL,
	"burn_last_24h" numeric(12, 6) NOT NULL,
	"evaluation" jsonb NOT NULL,
	"evaluated_at" timestamp with time zone NOT NULL,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "execution_approvals" (
	"execution_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"task_id" text NOT NULL,
	"actor_sub" text NOT NULL,
	"actor_role" text NOT NULL,
	"decision" text NOT NULL,
	"comment" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "execution_approvals_execution_id_task_id_actor_sub_pk" PRIMARY KEY("execution_id","task_id","actor_sub"),
	CONSTRAINT "execution_approvals_decision_check" CHECK ("execution_approvals"."decision" in ('approve','reject'))
);
--> statement-breakpoint
CREATE TABLE "execution_data_keys" (
	"execution_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"region" text NOT NULL,
	"wrapped_key" text,
	"master_key_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"erased_at" timestamp with time zone,
	CONSTRAINT "execution_data_keys_erased_check" CHECK (("execution_data_keys"."wrapped_key" is null) = ("execution_data_keys"."erased_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "execution_logs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "execution_logs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"tenant_id" uuid NOT NULL,
	"execution_id" uuid NOT NULL,
	"task_id" text,
	"attempt" integer,
	"ts" timestamp with time zone DEFAULT now() NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL,
	"data" jsonb
);
--> statement-breakpoint
CREATE TABLE "execution_signals" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"execution_id" uuid NOT NULL,
	"event" text NOT NULL,
	"key" text DEFAULT '' NOT NULL,
	"payload" jsonb,
	"actor_sub" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "execution_steps" (
	"execution_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"task_id" text NOT NULL,
	"uses" text NOT NULL,
	"runner_class" text NOT NULL,
	"status" text NOT NULL,
	"remaining_needs" integer NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"idempotency_key" text,
	"output_digest" text,
	"error" text,
	"cost_usd" numeric(12, 4) DEFAULT '0' NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"duration_ms" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"wake_at" timestamp with time zone,
	"requeues" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "execution_steps_execution_id_task_id_pk" PRIMARY KEY("execution_id","task_id"),
	CONSTRAINT "execution_steps_status_check" CHECK ("execution_steps"."status" in ('pending','queued','running','waiting','succeeded','failed','skipped','cancelled'))
);
--> statement-breakpoint
CREATE TABLE "execution_transitions" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "execution_transitions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"tenant_id" uuid NOT NULL,
	"type" text NOT NULL,
	"execution_id" uuid,
	"schedule_id" uuid,
	"from_status" text,
	"to_status" text,
	"actor_sub" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "executions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"workflow_id" uuid NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"region" text NOT NULL,
	"actor_sub" text NOT NULL,
	"idempotency_key" text,
	"inputs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"inputs_digest" text NOT NULL,
	"outputs_digest" text,
	"rollout" text,
	"trace_id" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"cost_usd" numeric(12, 4) DEFAULT '0' NOT NULL,
	"cost_estimate_usd" numeric(12, 4) DEFAULT '0' NOT NULL,
	"open_steps" integer NOT NULL,
	"inputs_class" text DEFAULT 'sensitive' NOT NULL,
	"actor_role" text,
	"priority" text DEFAULT 'normal' NOT NULL,
	"concurrency_key" text,
	"concurrency_limit" integer,
	"rerun_of" uuid,
	"idempotency_scope" text,
	"schedule_id" uuid,
	"paused_at" timestamp with time zone,
	CONSTRAINT "executions_status_check" CHECK ("executions"."status" in ('queued','pending','running','paused','succeeded','failed','cancelled','rejected','rolled_back')),
	CONSTRAINT "executions_priority_check" CHECK ("executions"."priority" in ('high','normal','low')),
	CONSTRAINT "executions_inputs_class_check" CHECK ("executions"."inputs_class" in ('public','internal','sensitive','regulated'))
);
--> statement-breakpoint
CREATE TABLE "incidents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"severity" text DEFAULT 'sev1' NOT NULL,
	"criterion" text NOT NULL,
	"opened_at" timestamp with time zone NOT NULL,
	"cleared_at" timestamp with time zone,
	"evidence" jsonb NOT NULL,
	"actions" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ops_alerts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid,
	"kind" text NOT NULL,
	"dedupe_key" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "ops_alerts_dedupe_key_unique" UNIQUE("dedupe_key")
);
--> statement-breakpoint
CREATE TABLE "policy_decisions" (
	"decision_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"pack" text NOT NULL,
	"allow" boolean NOT NULL,
	"reasons" jsonb NOT NULL,
	"bundle_digest" text NOT NULL,
	"backend" text NOT NULL,
	"latency_ms" numeric(10, 3) NOT NULL,
	"phase" text NOT NULL,
	"action" text NOT NULL,
	"actor_sub" text NOT NULL,
	"workflow_id" uuid,
	"execution_id" uuid,
	"input_digest" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "receipts" (
	"execution_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"receipt_json" jsonb NOT NULL,
	"digest" text NOT NULL,
	"signature" text NOT NULL,
	"key_id" text NOT NULL,
	"stored_uri" text NOT NULL,
	"bucket" text NOT NULL,
	"object_key" text NOT NULL,
	"verified" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "release_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "release_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"release_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"kind" text NOT NULL,
	"actor" text NOT NULL,
	"stage" integer NOT NULL,
	"from_weight" integer,
	"to_weight" integer,
	"dedupe_key" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "release_requests" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "release_requests_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"release_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"stage" integer NOT NULL,
	"arm" text NOT NULL,
	"workflow_id" uuid NOT NULL,
	"execution_id" uuid,
	"denied" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "release_requests_arm_check" CHECK ("release_requests"."arm" in ('stable','canary'))
);
--> statement-breakpoint
CREATE TABLE "release_tracks" (
	"tenant_id" uuid NOT NULL,
	"workflow_name" text NOT NULL,
	"stable_workflow_id" uuid NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "release_tracks_tenant_id_workflow_name_pk" PRIMARY KEY("tenant_id","workflow_name")
);
--> statement-breakpoint
CREATE TABLE "releases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"workflow_name" text NOT NULL,
	"stable_workflow_id" uuid NOT NULL,
	"canary_workflow_id" uuid NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"weight" integer NOT NULL,
	"stage" integer DEFAULT 0 NOT NULL,
	"stage_started_at" timestamp with time zone NOT NULL,
	"plan" jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"started_by" text NOT NULL,
	"last_analysis" jsonb,
	"last_analyzed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"outcome_reason" text,
	CONSTRAINT "releases_status_check" CHECK ("releases"."status" in ('active','completed','rolled_back')),
	CONSTRAINT "releases_weight_check" CHECK ("releases"."weight" between 0 and 100)
);
--> statement-breakpoint
CREATE TABLE "retention_runs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "retention_runs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"run_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"cutoff" timestamp with time zone NOT NULL,
	"retention_days" integer NOT NULL,
	"batch" integer NOT NULL,
	"deleted" integer NOT NULL,
	"runner" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "retention_runs_kind_check" CHECK ("retention_runs"."kind" in ('step_logs'))
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"workflow_id" uuid NOT NULL,
	"name" text NOT NULL,
	"cron" text,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"every_ms" integer,
	"inputs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"missed_run_policy" text DEFAULT 'run_once' NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"actor_sub" text NOT NULL,
	"actor_role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_fired_at" timestamp with time zone,
	"last_execution_id" uuid,
	CONSTRAINT "schedules_status_check" CHECK ("schedules"."status" in ('active','paused','deleted')),
	CONSTRAINT "schedules_missed_run_policy_check" CHECK ("schedules"."missed_run_policy" in ('skip','run_once')),
	CONSTRAINT "schedules_kind_check" CHECK (("schedules"."cron" is null) <> ("schedules"."every_ms" is null))
);
--> statement-breakpoint
CREATE TABLE "task_results" (
	"idempotency_key" text PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"execution_id" uuid NOT NULL,
	"task_id" text NOT NULL,
	"output" jsonb NOT NULL,
	"output_digest" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "tenants_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "workflows" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"version" text NOT NULL,
	"manifest" jsonb NOT NULL,
	"manifest_digest" text NOT NULL,
	"region" text NOT NULL,
	"status" text DEFAULT 'draft' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	"published_by" text,
	CONSTRAINT "workflows_status_check" CHECK ("workflows"."status" in ('draft','published')),
	CONSTRAINT "workflows_published_check" CHECK (("workflows"."status" = 'published') = ("workflows"."published_at" is not null))
);
--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "data_erasures" ADD CONSTRAINT "data_erasures_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "data_erasures" ADD CONSTRAINT "data_erasures_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "error_budget_states" ADD CONSTRAINT "error_budget_states_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_approvals" ADD CONSTRAINT "execution_approvals_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_approvals" ADD CONSTRAINT "execution_approvals_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_data_keys" ADD CONSTRAINT "execution_data_keys_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_data_keys" ADD CONSTRAINT "execution_data_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_logs" ADD CONSTRAINT "execution_logs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_signals" ADD CONSTRAINT "execution_signals_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_signals" ADD CONSTRAINT "execution_signals_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_steps" ADD CONSTRAINT "execution_steps_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_steps" ADD CONSTRAINT "execution_steps_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "execution_transitions" ADD CONSTRAINT "execution_transitions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "executions" ADD CONSTRAINT "executions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "executions" ADD CONSTRAINT "executions_workflow_id_workflows_id_fk" FOREIGN KEY ("workflow_id") REFERENCES "public"."workflows"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ops_alerts" ADD CONSTRAINT "ops_alerts_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "policy_decisions" ADD CONSTRAINT "policy_decisions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "receipts" ADD CONSTRAINT "receipts_execution_id_executions_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "receipts" ADD CONSTRAINT "receipts_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "release_events" ADD CONSTRAINT "release_events_release_id_releases_id_fk" FOREIGN KEY ("release_id") REFERENCES "public"."releases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "release_events" ADD CONSTRAINT "release_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "release_requests" ADD CONSTRAINT "release_requests_release_id_releases_id_fk" FOREIGN KEY ("release_id") REFERENCES "public"."releases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "release_requests" ADD CONSTRAINT "release_requests_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "release_tracks" ADD CONSTRAINT "release_tracks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "release_tracks" ADD CONSTRAINT "release_tracks_stable_workflow_id_workflows_id_fk" FOREIGN KEY ("stable_workflow_id") REFERENCES "public"."workflows"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "releases" ADD CONSTRAINT "releases_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "releases" ADD CONSTRAINT "releases_stable_workflow_id_workflows_id_fk" FOREIGN KEY ("stable_workflow_id") REFERENCES "public"."workflows"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "releases" ADD CONSTRAINT "releases_canary_workflow_id_workflows_id_fk" FOREIGN KEY ("canary_workflow_id") REFERENCES "public"."workflows"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_workflow_id_workflows_id_fk" FOREIGN KEY ("workflow_id") REFERENCES "public"."workflows"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_results" ADD CONSTRAINT "task_results_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workflows" ADD CONSTRAINT "workflows_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_tokens_tenant_idx" ON "api_tokens" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "audit_events_tenant_idx" ON "audit_events" USING btree ("tenant_id","seq");--> statement-breakpoint
CREATE INDEX "audit_events_partition_idx" ON "audit_events" USING btree ("partition","seq");--> statement-breakpoint
CREATE INDEX "audit_events_workflow_idx" ON "audit_events" USING btree ("workflow_id","seq");--> statement-breakpoint
CREATE INDEX "audit_events_execution_idx" ON "audit_events" USING btree ("execution_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "data_erasures_execution_key" ON "data_erasures" USING btree ("execution_id");--> statement-breakpoint
CREATE INDEX "execution_logs_execution_idx" ON "execution_logs" USING btree ("execution_id","id");--> statement-breakpoint
CREATE INDEX "execution_signals_lookup_idx" ON "execution_signals" USING btree ("execution_id","event","key","created_at");--> statement-breakpoint
CREATE INDEX "execution_steps_status_idx" ON "execution_steps" USING btree ("status","updated_at");--> statement-breakpoint
CREATE INDEX "execution_transitions_execution_idx" ON "execution_transitions" USING btree ("execution_id","id");--> statement-breakpoint
CREATE INDEX "execution_transitions_schedule_idx" ON "execution_transitions" USING btree ("schedule_id","id");--> statement-breakpoint
CREATE INDEX "executions_concurrency_idx" ON "executions" USING btree ("tenant_id","concurrency_key","status");--> statement-breakpoint
CREATE INDEX "executions_rerun_of_idx" ON "executions" USING btree ("rerun_of");--> statement-breakpoint
CREATE INDEX "executions_status_idx" ON "executions" USING btree ("status");--> statement-breakpoint
CREATE INDEX "executions_workflow_idx" ON "executions" USING btree ("workflow_id","created_at");--> statement-breakpoint
CREATE INDEX "executions_created_at_idx" ON "executions" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "executions_tenant_idempotency_key_key" ON "executions" USING btree ("tenant_id","idempotency_key");--> statement-breakpoint
CREATE UNIQUE INDEX "incidents_one_open_key" ON "incidents" USING btree ("criterion") WHERE "incidents"."cleared_at" is null;--> statement-breakpoint
CREATE INDEX "ops_alerts_tenant_idx" ON "ops_alerts" USING btree ("tenant_id","at");--> statement-breakpoint
CREATE INDEX "policy_decisions_execution_idx" ON "policy_decisions" USING btree ("execution_id");--> statement-breakpoint
CREATE INDEX "policy_decisions_workflow_idx" ON "policy_decisions" USING btree ("workflow_id","created_at");--> statement-breakpoint
CREATE INDEX "policy_decisions_denies_idx" ON "policy_decisions" USING btree ("allow","created_at");--> statement-breakpoint
CREATE INDEX "receipts_verified_idx" ON "receipts" USING btree ("verified");--> statement-breakpoint
CREATE UNIQUE INDEX "release_events_dedupe_key" ON "release_events" USING btree ("release_id","dedupe_key");--> statement-breakpoint
CREATE INDEX "release_events_release_idx" ON "release_events" USING btree ("release_id","id");--> statement-breakpoint
CREATE INDEX "release_requests_stage_idx" ON "release_requests" USING btree ("release_id","stage","arm");--> statement-breakpoint
CREATE UNIQUE INDEX "releases_one_active_key" ON "releases" USING btree ("tenant_id","workflow_name") WHERE "releases"."status" = 'active';--> statement-breakpoint
CREATE INDEX "releases_tenant_idx" ON "releases" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "retention_runs_kind_idx" ON "retention_runs" USING btree ("kind","finished_at");--> statement-breakpoint
CREATE INDEX "schedules_tenant_idx" ON "schedules" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "workflows_tenant_name_version_key" ON "workflows" USING btree ("tenant_id","name","version");--> statement-breakpoint
CREATE INDEX "workflows_created_at_idx" ON "workflows" USING btree ("tenant_id","created_at","id");