CREATE TABLE `api_key_requests` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key_id` integer NOT NULL,
	`at_ms` integer NOT NULL,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `api_key_requests_key_time` ON `api_key_requests` (`key_id`,`at_ms`);--> statement-breakpoint
CREATE TABLE `api_key_usage` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key_id` integer NOT NULL,
	`period` text NOT NULL,
	`characters` integer DEFAULT 0 NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_key_usage_key_period` ON `api_key_usage` (`key_id`,`period`);--> statement-breakpoint
CREATE TABLE `api_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`key_hash` text NOT NULL,
	`key_prefix` text NOT NULL,
	`chars_per_month` integer,
	`requests_per_minute` integer,
	`created_at` text NOT NULL,
	`revoked_at` text,
	CONSTRAINT "api_keys_chars_positive" CHECK("api_keys"."chars_per_month" is null or "api_keys"."chars_per_month" >= 0),
	CONSTRAINT "api_keys_rpm_positive" CHECK("api_keys"."requests_per_minute" is null or "api_keys"."requests_per_minute" >= 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash` ON `api_keys` (`key_hash`);