CREATE TABLE `calib_candidates` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`pool_id` integer NOT NULL,
	`file` text NOT NULL,
	`line` integer NOT NULL,
	`sha256` text NOT NULL,
	`norm_hash` text NOT NULL,
	`units` integer NOT NULL,
	`script_share` real NOT NULL,
	`target_lang` text,
	`target_file` text,
	`target_line` integer,
	`target_sha256` text,
	FOREIGN KEY (`pool_id`) REFERENCES `calib_pools`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `calib_candidates_line` ON `calib_candidates` (`pool_id`,`file`,`line`);--> statement-breakpoint
CREATE TABLE `calib_exclusions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`set_id` integer,
	`set_name` text NOT NULL,
	`lang` text NOT NULL,
	`file` text NOT NULL,
	`line` integer NOT NULL,
	`sha256` text NOT NULL,
	`norm_hash` text NOT NULL,
	`reason` text NOT NULL,
	`excluded_at` text NOT NULL,
	FOREIGN KEY (`set_id`) REFERENCES `calib_sets`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `calib_exclusions_lang` ON `calib_exclusions` (`lang`);--> statement-breakpoint
CREATE TABLE `calib_pools` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`lang` text NOT NULL,
	`unit` text NOT NULL,
	`candidates` integer NOT NULL,
	`options` text NOT NULL,
	`rejected` text NOT NULL,
	`sources` text NOT NULL,
	`eval_fingerprint` text NOT NULL,
	`eval_files` integer NOT NULL,
	`eval_sentences` integer NOT NULL,
	`imported_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `calib_pools_lang` ON `calib_pools` (`lang`);--> statement-breakpoint
CREATE TABLE `calib_set_members` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`set_id` integer NOT NULL,
	`file` text NOT NULL,
	`line` integer NOT NULL,
	`sha256` text NOT NULL,
	`norm_hash` text NOT NULL,
	`bucket` text NOT NULL,
	`units` integer NOT NULL,
	`script_share` real NOT NULL,
	`target_lang` text,
	`target_file` text,
	`target_line` integer,
	`target_sha256` text,
	FOREIGN KEY (`set_id`) REFERENCES `calib_sets`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "calib_set_members_bucket" CHECK("calib_set_members"."bucket" in ('short', 'medium', 'long', 'very_long'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `calib_set_members_line` ON `calib_set_members` (`set_id`,`file`,`line`);--> statement-breakpoint
CREATE TABLE `calib_sets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`lang` text NOT NULL,
	`seed` text NOT NULL,
	`requested_size` integer NOT NULL,
	`size` integer NOT NULL,
	`set_hash` text NOT NULL,
	`unit` text NOT NULL,
	`bucket_edges` text NOT NULL,
	`options` text NOT NULL,
	`eval_fingerprint` text NOT NULL,
	`manifest_path` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `calib_sets_name` ON `calib_sets` (`name`);--> statement-breakpoint
CREATE INDEX `calib_sets_lang` ON `calib_sets` (`lang`);