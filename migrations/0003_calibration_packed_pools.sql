CREATE TABLE `calib_pool_sources` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`pool_id` integer NOT NULL,
	`file` text NOT NULL,
	`file_sha256` text NOT NULL,
	`lines` integer NOT NULL,
	`target_lang` text,
	`target_file` text,
	`target_file_sha256` text,
	`accepted` integer NOT NULL,
	`candidate_lines` blob NOT NULL,
	`candidate_units` blob NOT NULL,
	FOREIGN KEY (`pool_id`) REFERENCES `calib_pools`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `calib_pool_sources_file` ON `calib_pool_sources` (`pool_id`,`file`);--> statement-breakpoint
DROP TABLE `calib_candidates`;