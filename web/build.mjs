// Builds the web pages into dist/web: esbuild bundles each page's TypeScript (web/src/<page>.ts) and the
// stylesheet into content-hashed files under dist/web/assets/, and the HTML pages get their names.
// Type checking is `tsc -p web/tsconfig.json` (run before this by `npm run build`). Nothing is fetched at run time.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(fileURLToPath(import.meta.url));
const out = join(web, "..", "dist", "web");
const assets = join(out, "assets");

const t0 = performance.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  entryPoints: {
    translate: join(web, "src", "translate.ts"),
    dashboard: join(web, "src", "dashboard.ts"),
    styles: join(web, "styles.css"),
  },
  bundle: true,
  format: "esm",
  target: ["chrome100", "firefox100", "safari15"],
  minify: true,
  sourcemap: "linked",
  outdir: assets,
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
  legalComments: "none",
});

// "%translate.js%" in a page -> "/assets/translate-<hash>.js"
const names = new Map();
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint || file.endsWith(".map")) continue;
  const entry = basename(meta.entryPoint).replace(/\.ts$/, ".js");
  names.set(entry, `/assets/${relative(assets, join(process.cwd(), file)).split("\\").join("/")}`);
}
copyFileSync(join(web, "favicon.svg"), join(assets, "favicon.svg"));
for (const page of readdirSync(web).filter((f) => f.endsWith(".html"))) {
  const html = readFileSync(join(web, page), "utf8").replace(/%([\w.-]+)%/g, (all, name) => {
    const url = names.get(name);
    if (!url) throw new Error(`web/${page}: no built asset for ${all}`);
    return url;
  });
  writeFileSync(join(out, page), html);
}
const bytes = Object.entries(result.metafile.outputs).filter(([f]) => !f.endsWith(".map")).reduce((n, [, m]) => n + m.bytes, 0);
console.log(`web: ${names.size} assets, ${(bytes / 1024).toFixed(1)} KiB, ${Math.round(performance.now() - t0)} ms -> ${relative(process.cwd(), out) || out}`);
