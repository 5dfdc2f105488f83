/**
 * One schema source for validation and documentation: routes declare their request and response schemas
 * (zod, with OpenAPI metadata) here, validate requests with those same schema objects, and the OpenAPI 3.1
 * document served at /openapi.json is generated from what was declared (@asteasolutions/zod-to-openapi).
 */
import {
  extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig,
} from "@asteasolutions/zod-to-openapi";
import { z } from "zod";

// Adds .openapi() (descriptions, examples, component names) to zod schemas; idempotent.
extendZodWithOpenApi(z);
export { z };

export type { RouteConfig };

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, unknown>>;
  components?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The API's description: routes register here as they are mounted. */
export class ApiDescription {
  readonly registry = new OpenAPIRegistry();
  private readonly routes: RouteConfig[] = [];

  /** Declares one operation; the route's path uses OpenAPI templates ("/v2/glossaries/{glossary_id}"). */
  describe(route: RouteConfig): void {
    this.registry.registerPath(route);
    this.routes.push(route);
  }

  /** Every operation declared so far. */
  operations(): readonly RouteConfig[] {
    return this.routes;
  }

  /** The OpenAPI 3.1 document. */
  document(info: { title: string; version: string; description?: string }): OpenApiDocument {
    const generator = new OpenApiGeneratorV31(this.registry.definitions);
    return generator.generateDocument({ openapi: "3.1.0", info }) as unknown as OpenApiDocument;
  }
}

/** The first issue of a failed parse: its path, zod's message, and whether the field was absent from `input`. */
export function describeIssue(error: z.ZodError, input: unknown): { path: string; message: string; missing: boolean } {
  const issue = error.issues[0];
  if (!issue) return { path: "", message: "invalid request", missing: false };
  const path = issue.path.map(String).join(".");
  let at: unknown = input;
  for (const k of issue.path) at = typeof at === "object" && at !== null ? (at as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined;
  return { path, message: issue.message, missing: issue.path.length > 0 && at === undefined };
}
