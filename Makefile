# faka — make help lists the targets.
GO       ?= go
# FUZZTIME counts executions (Nx), not seconds: a duration races Go 1.26's
# fuzz coordinator at its deadline (golang/go#75804, fixed in 1.27) and
# fails a target that found nothing with "context deadline exceeded".
FUZZTIME ?= 100000x
# Targets that verify a signature (RSA, or Stripe's library) per execution.
FUZZTIME_SLOW ?= 10000x

# Version stamped into release builds (faka version shows it).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
RELEASE_ARCHS ?= amd64 arm64

.PHONY: help run test test-race test-short fuzz lint bench build release ci

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## run the store with sample data on the embedded database
	$(GO) run ./cmd/faka serve --demo

build: ## build ./faka
	$(GO) build -o faka ./cmd/faka

release: ## static linux/amd64 and linux/arm64 archives with version info in dist/
	rm -rf dist && mkdir -p dist
	for arch in $(RELEASE_ARCHS); do \
	  d=faka_$(VERSION)_linux_$$arch; mkdir -p dist/$$d && \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -tags timetzdata -ldflags "$(LDFLAGS)" -o dist/$$d/faka ./cmd/faka && \
	  cp README.md deploy/faka.service dist/$$d/ && \
	  tar -C dist -czf dist/$$d.tar.gz $$d && rm -rf dist/$$d || exit 1; \
	done
	cd dist && sha256sum *.tar.gz > SHA256SUMS

# go test shows nothing of a package that passed, so the skipped suites
# are named here, after the run, where they cannot be missed.
define skipped_suites
	@test -n "$$FAKA_TEST_DATABASE_URL" || echo "SKIPPED: the PostgreSQL tests of $$(grep -rl --include='*_test.go' FAKA_TEST_DATABASE_URL . | xargs -n1 dirname | sort -u | tr '\n' ' ')(FAKA_TEST_DATABASE_URL is not set)"
	@test -n "$$FAKA_TEST_REDIS_URL" || echo "SKIPPED: the Redis tests of $$(grep -rl --include='*_test.go' FAKA_TEST_REDIS_URL . | xargs -n1 dirname | sort -u | tr '\n' ' ')(FAKA_TEST_REDIS_URL is not set)"
endef

test: ## run every test with the race detector (what CI runs)
	$(GO) test -race -count=1 -timeout 20m ./...
	$(skipped_suites)

test-short: ## quick tests without the race detector
	$(GO) test -short -count=1 ./...
	$(skipped_suites)

fuzz: ## run each fuzz target briefly (FUZZTIME=100000x executions)
	$(GO) test -run '^$$' -fuzz '^FuzzParseKeys$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x ./engine/
	$(GO) test -run '^$$' -fuzz '^FuzzSandboxNotification$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x ./payment/sandbox/
	$(GO) test -run '^$$' -fuzz '^FuzzEPayNotification$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x ./payment/epay/
	$(GO) test -run '^$$' -fuzz '^FuzzEpusdtNotification$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x ./payment/epusdt/
	$(GO) test -run '^$$' -fuzz '^FuzzAlipayNotification$$' -fuzztime $(FUZZTIME_SLOW) -fuzzminimizetime 200x ./payment/alipay/
	$(GO) test -run '^$$' -fuzz '^FuzzWechatNotification$$' -fuzztime $(FUZZTIME_SLOW) -fuzzminimizetime 200x ./payment/wechat/
	$(GO) test -run '^$$' -fuzz '^FuzzStripeNotification$$' -fuzztime $(FUZZTIME_SLOW) -fuzzminimizetime 200x ./payment/stripe/

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

bench: bench-sqlite bench-postgres bench-postgres-redis bench-import ## the full benchmark (about 15 min on a quiet machine): rewrites docs/BENCHMARKS.md's tables, charts and JSON

ci: lint test fuzz ## everything CI runs

.PHONY: bench-quick bench-docs bench-micro bench-sqlite bench-postgres bench-postgres-redis bench-import
bench-quick: ## flash-sale benchmark, small (under a minute); the last stdout line is JSON
	$(GO) run ./cmd/faka bench -quick

bench-docs: bench ## the same as make bench

bench-micro: ## micro-benchmarks of the engine and the stores (PostgreSQL's with FAKA_TEST_DATABASE_URL)
	$(GO) test -run '^$$' -bench . -benchmem ./engine/ ./sqlite/ ./postgres/

bench-sqlite: ## flash sale on SQLite: 3 rounds at c = 50…400 with the baselines
	$(GO) run ./cmd/faka bench -rounds 3 -sweep 50,100,400 -chart docs/bench-sqlite.svg -json-out docs/bench-sqlite.json -doc docs/BENCHMARKS.md

bench-postgres: ## flash sale and the 100,000-key drop on PostgreSQL (FAKA_TEST_DATABASE_URL, else the local test database)
	$(GO) run ./cmd/faka bench -backend postgres -rounds 3 -sweep 50,100,400 -chart docs/bench-postgres.svg -json-out docs/bench-postgres.json -doc docs/BENCHMARKS.md
	$(GO) run ./cmd/faka bench -backend postgres -keys 100000 -attempts 100000 -baseline-attempts 10000 -pay 10000 -expire-keys 200 -json-out docs/bench-postgres-100k.json -doc docs/BENCHMARKS.md -doc-section postgres-100k

bench-postgres-redis: ## the same with faka's admission gate shared through Redis (FAKA_TEST_REDIS_URL, else redis://127.0.0.1:6379/9)
	$(GO) run ./cmd/faka bench -backend postgres -gate-redis "$${FAKA_TEST_REDIS_URL:-redis://127.0.0.1:6379/9}" -rounds 3 -sweep 50,100,400 -chart docs/bench-postgres-redis.svg -json-out docs/bench-postgres-redis.json -doc docs/BENCHMARKS.md
	$(GO) run ./cmd/faka bench -backend postgres -gate-redis "$${FAKA_TEST_REDIS_URL:-redis://127.0.0.1:6379/9}" -keys 100000 -attempts 100000 -baseline-attempts 10000 -pay 10000 -expire-keys 200 -json-out docs/bench-postgres-redis-100k.json -doc docs/BENCHMARKS.md -doc-section postgres+redis-100k

bench-import: ## bulk: 1,000,000 keys by faka keys import and the admin API into a faka serve child process, a drop on them, its peak RSS
	$(GO) run ./cmd/faka bench -import 1000000 -json-out docs/bench-import.json -doc docs/BENCHMARKS.md
