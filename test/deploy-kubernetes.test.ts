/**
 * Issue 14 item 5: the Kubernetes manifests under deploy/kubernetes/. No cluster here, so every object is validated
 * against the Kubernetes JSON schemas of the kubernetes-models package (Kubernetes 1.27), and what a schema cannot
 * see is checked against the code: probe paths and ports, grace periods versus GLOSSA_SHUTDOWN_GRACE_MS, selectors,
 * the HPA's target, the worker command, environment variables the code reads, Secret and ConfigMap keys.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../src/config.js";

const DIR = join(repoRoot(), "deploy", "kubernetes");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
interface Doc {
  file: string;
  obj: Obj;
}

function loadDocs(): Doc[] {
  const out: Doc[] = [];
  for (const file of readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(DIR, file), "utf8"))) {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      const obj = d.toJS() as Obj | null;
      if (obj) out.push({ file, obj });
    }
  }
  return out;
}

/** The kubernetes-models class for an apiVersion/kind: core "v1" -> kubernetes-models/v1/Kind, else group/version/Kind. */
async function validate(obj: Obj): Promise<void> {
  const path = `kubernetes-models/${obj.apiVersion}/${obj.kind}`;
  const mod = (await import(path)) as Record<string, new (o: Obj) => { validate(): void }>;
  const Model = mod[obj.kind] ?? mod.default;
  assert.ok(Model, `no model for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

const docs = loadDocs();
const find = (kind: string, name: string): Obj => {
  const d = docs.find((x) => x.obj.kind === kind && x.obj.metadata?.name === name);
  assert.ok(d, `no ${kind} ${name}`);
  return d.obj;
};
const matches = (selector: Obj, labels: Obj): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("Kubernetes manifests (deploy/kubernetes)", () => {
  it("every object passes the Kubernetes JSON schema; a broken one does not", async () => {
    const objects = docs.filter((d) => d.obj.kind !== "Kustomization");
    assert.ok(objects.length >= 8, `only ${objects.length} objects`);
    for (const d of objects) {
      try {
        await validate(d.obj);
      } catch (e) {
        assert.fail(`${d.file}: ${d.obj.kind} ${d.obj.metadata?.name}: ${(e as Error).message}`);
      }
    }
    // The validator is not a no-op.
    const broken = structuredClone(find("Deployment", "glossa-server"));
    broken.spec.replicas = "three";
    await assert.rejects(validate(broken), /replicas must be integer/);
    const noPort = structuredClone(find("Deployment", "glossa-server"));
    delete noPort.spec.template.spec.containers[0].readinessProbe.httpGet.port;
    await assert.rejects(validate(noPort), /port/);
  });

  it("the kustomization lists every manifest but the example Secret", () => {
    const k = docs.find((d) => d.obj.kind === "Kustomization")!.obj;
    const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml" && f !== "secret.example.yaml").sort();
    assert.deepEqual([...(k.resources as string[])].sort(), files);
    for (const r of k.resources as string[]) assert.ok(existsSync(join(DIR, r)), r);
    assert.equal(k.namespace, "glossa");
  });

  it("servers: readiness on /ready, liveness on /health, termination grace covering preStop + GLOSSA_SHUTDOWN_GRACE_MS, resources", () => {
    const config = find("ConfigMap", "glossa-config").data as Record<string, string>;
    const dep = find("Deployment", "glossa-server");
    assert.ok(dep.spec.replicas >= 3);
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    assert.deepEqual(c.command, ["node", "dist/src/server/main.js"]);
    assert.ok(existsSync(join(repoRoot(), "src", "server", "main.ts")));
    const http = c.ports.find((p: Obj) => p.name === "http");
    assert.equal(String(http.containerPort), config.PORT);
    assert.equal(c.readinessProbe.httpGet.path, "/ready");
    assert.equal(c.readinessProbe.httpGet.port, "http");
    assert.equal(c.livenessProbe.httpGet.path, "/health");
    assert.equal(c.livenessProbe.httpGet.port, "http");
    assert.equal(c.startupProbe.httpGet.path, "/ready");
    const preStop = c.lifecycle.preStop.exec.command as string[];
    assert.equal(preStop[0], "sleep");
    const graceMs = Number(config.GLOSSA_SHUTDOWN_GRACE_MS);
    assert.ok(graceMs > 0);
    assert.ok(
      pod.terminationGracePeriodSeconds >= Number(preStop[1]) + graceMs / 1000 + 1,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < preStop ${preStop[1]} s + shutdown grace ${graceMs / 1000} s + 1 s`,
    );
    for (const r of ["cpu", "memory"]) {
      assert.ok(c.resources.requests[r], `requests.${r}`);
      assert.ok(c.resources.limits[r], `limits.${r}`);
    }
    assert.ok(Number(config.GLOSSA_THREADS) <= Number(c.resources.limits.cpu), "engine threads within the CPU limit");
    assert.equal(config.GLOSSA_HOST, "0.0.0.0", "listening on the pod's address");
  });

  it("Service, HPA and PDB point at the server pods", () => {
    const dep = find("Deployment", "glossa-server");
    const labels = dep.spec.template.metadata.labels as Obj;
    assert.ok(matches(dep.spec.selector.matchLabels, labels));
    const svc = find("Service", "glossa");
    assert.ok(matches(svc.spec.selector, labels));
    assert.equal(svc.spec.ports[0].targetPort, "http");
    const workerLabels = find("Deployment", "glossa-worker").spec.template.metadata.labels as Obj;
    assert.ok(!matches(svc.spec.selector, workerLabels), "workers take no HTTP traffic");
    const hpa = find("HorizontalPodAutoscaler", "glossa-server");
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: dep.apiVersion, kind: "Deployment", name: dep.metadata.name });
    assert.ok(hpa.spec.minReplicas >= 3 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
    const cpu = (hpa.spec.metrics as Obj[]).find((m) => m.type === "Resource" && m.resource.name === "cpu");
    assert.ok(cpu && cpu.resource.target.type === "Utilization" && cpu.resource.target.averageUtilization > 0);
    const pdb = find("PodDisruptionBudget", "glossa-server");
    assert.ok(matches(pdb.spec.selector.matchLabels, labels));
    assert.ok(pdb.spec.minAvailable < hpa.spec.minReplicas);
  });

  it("workers run `glossa worker`, a command the CLI has, with a grace period for the shard in hand", () => {
    const dep = find("Deployment", "glossa-worker");
    const c = dep.spec.template.spec.containers[0];
    assert.deepEqual(c.command, ["node", "dist/src/cli/glossa.js", "worker"]);
    const cli = import.meta.url.endsWith(".ts") ? ["--import", "tsx", join(repoRoot(), "src", "cli", "glossa.ts")] : [join(repoRoot(), "dist", "src", "cli", "glossa.js")];
    const help = spawnSync(process.execPath, [...cli, "worker", "--help"], { encoding: "utf8" });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /usage: glossa worker/);
    assert.ok(dep.spec.template.spec.terminationGracePeriodSeconds >= 300);
    assert.ok(c.resources.limits.cpu && c.resources.limits.memory);
  });

  it("every environment variable set is one the code reads; every Secret/ConfigMap reference resolves", () => {
    const src: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith(".ts")) src.push(readFileSync(join(d, e.name), "utf8"));
      }
    };
    walk(join(repoRoot(), "src"));
    const code = src.join("\n");
    const config = find("ConfigMap", "glossa-config");
    const secret = find("Secret", "glossa-secrets");
    const names = new Set<string>(Object.keys(config.data));
    for (const dep of docs.filter((d) => d.obj.kind === "Deployment").map((d) => d.obj)) {
      for (const c of dep.spec.template.spec.containers as Obj[]) {
        for (const e of (c.env ?? []) as Obj[]) {
          names.add(e.name);
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) {
            assert.equal(ref.name, secret.metadata.name);
            assert.ok(ref.key in secret.stringData, `${dep.metadata.name}: ${e.name} reads key ${ref.key}, not in the Secret`);
          }
        }
        for (const f of (c.envFrom ?? []) as Obj[]) if (f.configMapRef) assert.equal(f.configMapRef.name, config.metadata.name);
      }
    }
    for (const n of names) assert.ok(code.includes(`"${n}"`) || code.includes(`.${n}`), `${n} is set by the manifests but no code in src/ reads it`);
  });
});
