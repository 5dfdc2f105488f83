CREATE TABLE `eval_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`engine_id` integer NOT NULL,
	`eval_set_id` integer NOT NULL,
	`pair` text NOT NULL,
	`bleu` real NOT NULL,
	`chrf` real NOT NULL,
	`bleu_signature` text NOT NULL,
	`chrf_signature` text NOT NULL,
	`sentences` integer NOT NULL,
	`line_limit` integer,
	`wall_seconds` real NOT NULL,
	`decode_options` text NOT NULL,
	`hyp_sha256` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`engine_id`) REFERENCES `engines`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`eval_set_id`) REFERENCES `eval_sets`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `eval_runs_engine_set` ON `eval_runs` (`engine_id`,`eval_set_id`);--> statement-breakpoint
CREATE TABLE `eval_sets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`pair` text NOT NULL,
	`src_lang` text NOT NULL,
	`tgt_lang` text NOT NULL,
	`source_file` text NOT NULL,
	`ref_file` text NOT NULL,
	`lines` integer NOT NULL,
	`source_sha256` text NOT NULL,
	`ref_sha256` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `eval_sets_identity` ON `eval_sets` (`name`,`pair`,`source_sha256`,`ref_sha256`);--> statement-breakpoint
CREATE TABLE `engines` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`model_id` integer NOT NULL,
	`file` text NOT NULL,
	`recipe` text NOT NULL,
	`language` text,
	`is_reference` integer DEFAULT false NOT NULL,
	`file_sha256` text NOT NULL,
	`calibration_sha256` text,
	`size_bytes` integer NOT NULL,
	`decode_options` text,
	`created_at` text NOT NULL,
	FOREIGN KEY (`model_id`) REFERENCES `models`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "engines_size_nonnegative" CHECK("engines"."size_bytes" >= 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `engines_name` ON `engines` (`name`);--> statement-breakpoint
CREATE INDEX `engines_model` ON `engines` (`model_id`);--> statement-breakpoint
CREATE TABLE `models` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`dir` text NOT NULL,
	`config_sha256` text NOT NULL,
	`weights_sha256` text NOT NULL,
	`weights_fingerprint` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `models_identity` ON `models` (`dir`,`config_sha256`,`weights_sha256`);