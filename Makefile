# Spec §16 dev ergonomics, adapted to this repo (Bun workspace; tests via ./dev/run).
# `make up`/`down` need Docker; everything else runs on the machine (see README.md).
.PHONY: dev up down db schema lint test e2e disclose

API ?= http://127.0.0.1:3000
export API

dev:
	bun run start

up:
	docker compose -f dev/docker-compose.yml up -d

down:
	docker compose -f dev/docker-compose.yml down -v

db:
	bun run migrate

# The schema is drizzle/ (generated from server/db/schema.ts by drizzle-kit).
schema:
	bun run db:generate

lint:
	bun run typecheck

test:
	./dev/run test

e2e:
	bun test tests/e2e

# EXEC=<execution id> [API=http://host:port] make disclose  ->  pack.tgz; check it with `bun run mc verify pack.tgz --key key.pem`
disclose:
	curl -fsS "$${API}/api/executions/$$EXEC/disclosure.tgz" -o pack.tgz
