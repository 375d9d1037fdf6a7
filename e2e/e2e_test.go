// Package e2e runs faka the way a scaled-out shop does (docs/ARCHITECTURE.md §5,
// issue 3): several real `faka serve` processes on one PostgreSQL
// database and one Redis, driven over HTTP from outside, with processes
// killed and Redis flushed under load. The invariants of docs/ARCHITECTURE.md §1 are
// checked through every instance's reconciliation, the buyers' order
// pages and, for overdue reservations, the database itself.
//
// The tests need a PostgreSQL server (FAKA_TEST_DATABASE_URL, any database
// on it: each test creates and drops a database of its own) and, for the
// shared admission gate, Redis (FAKA_TEST_REDIS_URL: the tests use the
// logical database it names, each under a key prefix of its own, see
// redisNamespace, and delete only their own keys). Without
// them the tests skip, unless FAKA_REQUIRE_POSTGRES=1 or
// FAKA_REQUIRE_REDIS=1 makes them fail, as in CI:
//
//	FAKA_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	FAKA_TEST_REDIS_URL='redis://127.0.0.1:6379/9' \
//	go test -race -count=1 -v ./e2e/
package e2e

import (
	"fmt"
	"os"
	"testing"
)

// TestScaleOut builds the faka binary once and runs the two
// acceptance scenarios against three instances of it, after checking
// that three instances can start together:
//
//   - Start: three instances started at the same moment on an empty
//     database all become ready (they race to apply the migrations).
//   - Drop: 2,000 keys, 10,000 order attempts round-robin over the three,
//     about two thirds of the orders paid (as many as the stock covers),
//     every notification delivered three times to different instances,
//     the rest left to expire; everything must add up.
//   - Faults: the same, with one instance killed (SIGKILL) and restarted
//     in the middle of the drop, Redis flushed during the drop, and
//     another instance killed and restarted during the payments; buyers
//     and the gateway retry on another instance, and afterwards no paid
//     order is lost, no key is sold twice and no reservation outlives its
//     TTL.
//
// -short shrinks the drops.
func TestScaleOut(t *testing.T) {
	svc := needServices(t)
	bin := buildFaka(t)
	t.Run("Start", func(t *testing.T) { testStart(t, svc, bin) })
	t.Run("Drop", func(t *testing.T) {
		runDrop(t, svc, bin, dropConfig{})
	})
	t.Run("Faults", func(t *testing.T) {
		runDrop(t, svc, bin, dropConfig{faults: true})
	})
}

// services are the servers the tests run against; redisURL is empty when
// the tests run without Redis.
type services struct {
	databaseURL string
	redisURL    string
}

// testStart starts three instances at the same moment on an empty
// database, as a deployment of three replicas does, and expects all of
// them to come up and answer: they race to create the schema, and must not
// trip over each other doing it. The race is won or lost in milliseconds,
// so it runs a few rounds, each on a new database.
func testStart(t *testing.T, svc services, bin string) {
	for round := range 3 {
		ok := t.Run(fmt.Sprintf("round %d", round+1), func(t *testing.T) {
			var redisURL string
			if svc.redisURL != "" {
				redisURL = redisNamespace(t, svc.redisURL)
			}
			cl := startCluster(t, clusterConfig{bin: bin, size: clusterSize,
				databaseURL: freshDatabase(t, svc.databaseURL), redisURL: redisURL, together: true})
			c := newClient(cl, 1)
			defer c.close()
			for i := range clusterSize {
				if rep, err := c.reconcile(t.Context(), i); err != nil || !rep.OK {
					t.Errorf("reconcile on %s: %+v %v", cl.instances[i].name, rep, err)
				}
			}
		})
		if !ok {
			return
		}
	}
}

// needServices reads FAKA_TEST_DATABASE_URL and FAKA_TEST_REDIS_URL. A
// missing database skips the test, or fails it under
// FAKA_REQUIRE_POSTGRES=1; a missing Redis makes the test run on the
// database alone, or fails it under FAKA_REQUIRE_REDIS=1.
func needServices(t *testing.T) services {
	t.Helper()
	svc := services{
		databaseURL: os.Getenv("FAKA_TEST_DATABASE_URL"),
		redisURL:    os.Getenv("FAKA_TEST_REDIS_URL"),
	}
	if svc.databaseURL == "" {
		if os.Getenv("FAKA_REQUIRE_POSTGRES") == "1" {
			t.Fatal("FAKA_REQUIRE_POSTGRES=1 but FAKA_TEST_DATABASE_URL is not set")
		}
		t.Skip("FAKA_TEST_DATABASE_URL is not set; multi-instance tests skipped")
	}
	if svc.redisURL == "" {
		if requireRedis() {
			t.Fatal("FAKA_REQUIRE_REDIS=1 but FAKA_TEST_REDIS_URL is not set")
		}
		t.Log("FAKA_TEST_REDIS_URL is not set: the instances run without the Redis admission gate")
	}
	return svc
}

func requireRedis() bool { return os.Getenv("FAKA_REQUIRE_REDIS") == "1" }
