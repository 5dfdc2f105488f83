/** Artifact store in a directory every machine mounts: <dir>/<sha256>, written to a temporary name and renamed. */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ArtifactMissingError, checkSha256 } from "./errors.js";
import type { ArtifactStore } from "./index.js";

export class DirArtifactStore implements ArtifactStore {
  readonly description: string;

  constructor(readonly dir: string) {
    this.description = `dir:${dir}`;
  }

  private path(sha256: string): string {
    return join(this.dir, checkSha256(sha256));
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.path(sha256))).isFile();
    } catch {
      return false;
    }
  }

  async put(sha256: string, file: string): Promise<void> {
    const dest = this.path(sha256);
    if (await this.has(sha256)) return;
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${sha256}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    try {
      await copyFile(file, tmp, constants.COPYFILE_EXCL);
      const h = await open(tmp, "r+");
      try {
        await h.sync();
      } finally {
        await h.close();
      }
      await rename(tmp, dest);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async get(sha256: string, dest: string): Promise<void> {
    if (!(await this.has(sha256))) throw new ArtifactMissingError(`${this.description}: no file ${sha256}`);
    await copyFile(this.path(sha256), dest);
  }
}
