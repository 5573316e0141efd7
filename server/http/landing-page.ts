import { mcVersion } from '../version.ts';

/** What `/` serves until the dashboard's static build is present: where to go next. */
export function landingPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Maestro Conductor</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}code{background:#f2f2f2;padding:0 .25rem}a{color:#0645ad}</style>
</head><body>
<h1>Maestro Conductor <small>${mcVersion}</small></h1>
<p>The control plane is running. Every execution ends in a signed, independently verifiable receipt.</p>
<ul>
<li><a href="/api/openapi.json">REST API (OpenAPI)</a> · typed tRPC API at <code>/trpc</code></li>
<li><a href="/api/workflows">Workflows</a> · <a href="/api/executions">Executions</a> · <a href="/api/keys">Receipt-signing keys</a></li>
<li><a href="/readyz">Readiness</a> (database, Redis, object store)</li>
</ul>
</body></html>`;
}
