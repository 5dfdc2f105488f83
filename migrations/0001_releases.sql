CREATE TABLE `gate_decisions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`engine_id` integer NOT NULL,
	`reference_engine_id` integer NOT NULL,
	`decision` text NOT NULL,
	`tolerances` text NOT NULL,
	`summary` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`engine_id`) REFERENCES `engines`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`reference_engine_id`) REFERENCES `engines`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "gate_decisions_decision" CHECK("gate_decisions"."decision" in ('pass', 'fail'))
);
--> statement-breakpoint
CREATE INDEX `gate_decisions_engine` ON `gate_decisions` (`engine_id`);--> statement-breakpoint
CREATE TABLE `gate_reasons` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`decision_id` integer NOT NULL,
	`pair` text NOT NULL,
	`set_name` text NOT NULL,
	`eval_set_id` integer,
	`engine_run_id` integer,
	`reference_run_id` integer,
	`engine_bleu` real,
	`reference_bleu` real,
	`engine_chrf` real,
	`reference_chrf` real,
	`passed` integer NOT NULL,
	`reason` text NOT NULL,
	FOREIGN KEY (`decision_id`) REFERENCES `gate_decisions`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`eval_set_id`) REFERENCES `eval_sets`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`engine_run_id`) REFERENCES `eval_runs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`reference_run_id`) REFERENCES `eval_runs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `gate_reasons_decision` ON `gate_reasons` (`decision_id`);--> statement-breakpoint
CREATE TABLE `releases` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`engine_id` integer NOT NULL,
	`gate_decision_id` integer NOT NULL,
	`released_at` text NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`ended_at` text,
	`ended_by_decision_id` integer,
	FOREIGN KEY (`engine_id`) REFERENCES `engines`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`gate_decision_id`) REFERENCES `gate_decisions`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`ended_by_decision_id`) REFERENCES `gate_decisions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `releases_engine_active` ON `releases` (`engine_id`,`active`);