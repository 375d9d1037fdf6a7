package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/postgres"
	"github.com/faka-dev/faka/storetest"
)

// databaseURL returns the test server's URL. Without FAKA_TEST_DATABASE_URL
// the tests skip, unless FAKA_REQUIRE_POSTGRES=1 (as in CI) makes them fail.
func databaseURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("FAKA_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("FAKA_REQUIRE_POSTGRES") == "1" {
			t.Fatal("FAKA_REQUIRE_POSTGRES=1 but FAKA_TEST_DATABASE_URL is not set")
		}
		t.Skip("FAKA_TEST_DATABASE_URL is not set; PostgreSQL tests skipped")
	}
	return url
}

// openPostgres opens a store in a fresh schema of its own, dropped when
// the test ends.
func openPostgres(t *testing.T) faka.Store {
	t.Helper()
	url := databaseURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "faka_test_" + hex.EncodeToString(b)
	st, err := postgres.Open(t.Context(), url, postgres.Options{Schema: schema, MaxConns: 16})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() {
		st.Close()
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return st
}

func TestConformance(t *testing.T) { storetest.Run(t, openPostgres) }

func TestBank(t *testing.T) { storetest.Bank(t, openPostgres, storetest.BankOptions{}) }
