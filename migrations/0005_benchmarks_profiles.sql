CREATE TABLE `bench_results` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run` text NOT NULL,
	`bench` text NOT NULL,
	`engine_id` integer,
	`engine_name` text NOT NULL,
	`model` text NOT NULL,
	`mode` text NOT NULL,
	`batch` integer NOT NULL,
	`sentences` integer NOT NULL,
	`tokens` integer NOT NULL,
	`wall_seconds` real NOT NULL,
	`tokens_per_second` real NOT NULL,
	`latency_mean_s` real,
	`latency_p50_s` real,
	`latency_max_s` real,
	`threads` integer NOT NULL,
	`kernels` text NOT NULL,
	`load_average` real,
	`host` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`engine_id`) REFERENCES `engines`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `bench_results_run` ON `bench_results` (`run`);--> statement-breakpoint
CREATE INDEX `bench_results_engine` ON `bench_results` (`engine_id`);--> statement-breakpoint
CREATE TABLE `engine_profiles` (
	`engine_id` integer PRIMARY KEY NOT NULL,
	`report` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`engine_id`) REFERENCES `engines`(`id`) ON UPDATE no action ON DELETE no action
);
