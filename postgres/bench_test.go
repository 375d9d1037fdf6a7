package postgres_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/postgres"
)

// The store's micro-benchmarks on PostgreSQL, in a schema of their own
// that is dropped afterwards. They skip without FAKA_TEST_DATABASE_URL.
//
//	FAKA_TEST_DATABASE_URL=postgres://… go test -run '^$' -bench . ./postgres/

type pgBench struct {
	st  *postgres.Store
	pid int64
	n   int
}

func openPGBench(b *testing.B) *pgBench {
	b.Helper()
	url := os.Getenv("FAKA_TEST_DATABASE_URL")
	if url == "" {
		b.Skip("FAKA_TEST_DATABASE_URL is not set")
	}
	r := make([]byte, 6)
	rand.Read(r)
	schema := "faka_bench_" + hex.EncodeToString(r)
	st, err := postgres.Open(context.Background(), url, postgres.Options{Schema: schema, MaxConns: 8})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		st.Close()
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			b.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			b.Errorf("drop schema %s: %v", schema, err)
		}
	})
	p := &faka.Product{Name: "bench", Price: 100, Currency: "CNY", Delivery: faka.DeliveryCard,
		ReservationTTL: time.Hour, MinQuantity: 1, MaxQuantity: 10, Active: true}
	if err := st.ProductCreate(context.Background(), p, nil, 0, nil); err != nil {
		b.Fatal(err)
	}
	return &pgBench{st: st, pid: p.ID}
}

func (s *pgBench) addKeys(b *testing.B, n int) {
	b.Helper()
	keys := make([]faka.SealedKey, n)
	for i := range keys {
		h := sha256.Sum256(fmt.Appendf(nil, "key-%d", s.n+i))
		keys[i] = faka.SealedKey{Hash: h[:], Ciphertext: append(h[:], h[:]...)}
	}
	s.n += n
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), 50_000)]
		keys = keys[len(chunk):]
		if _, err := (engine.Rules{Store: s.st}).KeysImport(context.Background(), s.pid, chunk); err != nil {
			b.Fatal(err)
		}
	}
}

var pgOrderSeq atomic.Int64

func pgReserveParams(n int) []faka.ReserveParams {
	out := make([]faka.ReserveParams, n)
	for i := range out {
		no := fmt.Sprintf("P%019d", pgOrderSeq.Add(1))
		h := sha256.Sum256([]byte(no))
		out[i] = faka.ReserveParams{OrderNo: no, TokenHash: h[:], Quantity: 1, UnitPrice: 100, Amount: 100,
			Currency: "CNY", Email: "buyer@example.com", Gateway: "sandbox", TTL: time.Hour}
	}
	return out
}

// BenchmarkReserveBatch is one ReserveBatch transaction of size buyers of
// one key each, one after another on one product, until b.N batches have
// drained the keys imported for them: the engine's batcher in a drop.
func BenchmarkReserveBatch(b *testing.B) {
	for _, size := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			s := openPGBench(b)
			s.addKeys(b, b.N*size)
			batches := make([][]faka.ReserveParams, b.N)
			for i := range batches {
				batches[i] = pgReserveParams(size)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				outs, err := (engine.Rules{Store: s.st}).ReserveBatch(context.Background(), s.pid, batches[i])
				if err != nil {
					b.Fatal(err)
				}
				if outs[0].Err != nil {
					b.Fatal(outs[0].Err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/order")
		})
	}
}

// BenchmarkReserveDrain drains 100,000 keys in batches of 256 and reports
// the time per order of the first and the last tenth of the batches: the
// index of available keys fills with the entries of keys claimed before,
// which every batch's FOR UPDATE SKIP LOCKED scan walks past until they
// are pruned.
func BenchmarkReserveDrain(b *testing.B) {
	const keys, size = 100_000, 256
	for range b.N {
		b.StopTimer()
		s := openPGBench(b)
		s.addKeys(b, keys)
		n := keys / size
		batches := make([][]faka.ReserveParams, n)
		for i := range batches {
			batches[i] = pgReserveParams(size)
		}
		b.StartTimer()
		took := make([]time.Duration, n)
		for i := range n {
			t0 := time.Now()
			outs, err := (engine.Rules{Store: s.st}).ReserveBatch(context.Background(), s.pid, batches[i])
			if err != nil {
				b.Fatal(err)
			}
			if outs[0].Err != nil {
				b.Fatal(outs[0].Err)
			}
			took[i] = time.Since(t0)
		}
		tenth := n / 10
		var first, last time.Duration
		for i := range tenth {
			first += took[i]
			last += took[n-1-i]
		}
		b.ReportMetric(float64(first.Nanoseconds())/float64(tenth*size), "ns/order-first10%")
		b.ReportMetric(float64(last.Nanoseconds())/float64(tenth*size), "ns/order-last10%")
	}
}
