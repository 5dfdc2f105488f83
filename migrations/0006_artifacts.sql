CREATE TABLE `artifact_chunks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`sha256` text NOT NULL,
	`idx` integer NOT NULL,
	`data` blob NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `artifact_chunks_position` ON `artifact_chunks` (`sha256`,`idx`);--> statement-breakpoint
CREATE TABLE `artifacts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`sha256` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`chunk_bytes` integer NOT NULL,
	`chunks` integer NOT NULL,
	`created_at` text NOT NULL,
	CONSTRAINT "artifacts_size_nonnegative" CHECK("artifacts"."size_bytes" >= 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `artifacts_sha256` ON `artifacts` (`sha256`);