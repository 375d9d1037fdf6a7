# faka — make help lists the targets.
GO       ?= go
# FUZZTIME counts executions (Nx), not seconds: a duration races Go 1.26's
# fuzz coordinator at its deadline (golang/go#75804, fixed in 1.27) and
# fails a target that found nothing with "context deadline exceeded".
FUZZTIME ?= 100000x
# Targets that verify a signature (RSA, or Stripe's library) per execution.
FUZZTIME_SLOW ?= 10000x

.PHONY: help run test test-race test-short fuzz lint bench build ci

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## run the store with sample data on the embedded database
	$(GO) run ./cmd/faka serve --demo

build: ## build ./faka
	$(GO) build -o faka ./cmd/faka

test: ## run every test with the race detector (what CI runs)
	$(GO) test -race -count=1 -timeout 20m ./...

test-short: ## quick tests without the race detector
	$(GO) test -short -count=1 ./...

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

bench: ## micro-benchmarks of the engine and store
	$(GO) test -run '^$$' -bench . -benchmem ./engine/ ./sqlite/

ci: lint test fuzz ## everything CI runs

.PHONY: bench-quick bench-docs
bench-quick: ## flash-sale benchmark, small (under a minute); the last stdout line is JSON
	$(GO) run ./cmd/faka bench -quick

bench-docs: ## full flash-sale benchmark (3 rounds, c = 50…400); rewrites docs/BENCHMARKS.md's tables and chart
	$(GO) run ./cmd/faka bench -rounds 3 -sweep 50,100,400 -chart docs/bench-sqlite.svg -json-out docs/bench-sqlite.json -doc docs/BENCHMARKS.md
