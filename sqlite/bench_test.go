package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/sqlite"
)

// The store's micro-benchmarks: the write transactions of the hot paths,
// on a real file with synchronous=FULL (every commit is an fsync), as the
// server runs them. Compare runs with benchstat:
//
//	go test -run '^$' -bench . -count 6 ./sqlite/ > new.txt
//	benchstat old.txt new.txt

type benchStore struct {
	st  *sqlite.Store
	pid int64
	n   int // keys imported so far
}

func openBench(b *testing.B) *benchStore {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "faka.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	p := &faka.Product{Name: "bench", Price: 100, Currency: "CNY", Delivery: faka.DeliveryCard,
		ReservationTTL: time.Hour, MinQuantity: 1, MaxQuantity: 10, Active: true}
	if err := st.ProductCreate(context.Background(), p, nil, 0, nil); err != nil {
		b.Fatal(err)
	}
	return &benchStore{st: st, pid: p.ID}
}

// addKeys imports n more keys (not timed).
func (s *benchStore) addKeys(b *testing.B, n int) {
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

var orderSeq atomic.Int64

func reserveParams(n int) []faka.ReserveParams {
	out := make([]faka.ReserveParams, n)
	for i := range out {
		no := fmt.Sprintf("B%019d", orderSeq.Add(1))
		h := sha256.Sum256([]byte(no))
		out[i] = faka.ReserveParams{OrderNo: no, TokenHash: h[:], Quantity: 1, UnitPrice: 100, Amount: 100,
			Currency: "CNY", Email: "buyer@example.com", Gateway: "sandbox", TTL: time.Hour}
	}
	return out
}

// reserve makes n pending orders of one unit (not timed).
func (s *benchStore) reserve(b *testing.B, n int) []*faka.Order {
	b.Helper()
	s.addKeys(b, n)
	var out []*faka.Order
	for n > 0 {
		size := min(n, 256)
		n -= size
		outs, err := (engine.Rules{Store: s.st}).ReserveBatch(context.Background(), s.pid, reserveParams(size))
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			if o.Err != nil {
				b.Fatal(o.Err)
			}
			out = append(out, o.Order)
		}
	}
	return out
}

// BenchmarkReserveBatch is one ReserveBatch transaction of size buyers of
// one key each: what the engine's batcher sends under a drop.
func BenchmarkReserveBatch(b *testing.B) {
	for _, size := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			s := openBench(b)
			s.addKeys(b, b.N*size)
			batches := make([][]faka.ReserveParams, b.N)
			for i := range batches {
				batches[i] = reserveParams(size)
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

// BenchmarkReserveSoldOut is a batch that finds no stock left.
func BenchmarkReserveSoldOut(b *testing.B) {
	s := openBench(b)
	p := reserveParams(1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		outs, err := (engine.Rules{Store: s.st}).ReserveBatch(context.Background(), s.pid, p)
		if err != nil || outs[0].Err == nil {
			b.Fatal(err, outs)
		}
	}
}

func notification(o *faka.Order) faka.Notification {
	return faka.Notification{Gateway: "sandbox", OrderNo: o.OrderNo, TradeNo: "T" + o.OrderNo, Amount: o.Amount, Currency: o.Currency}
}

// BenchmarkConfirm is one genuine payment notification after another.
func BenchmarkConfirm(b *testing.B) {
	s := openBench(b)
	orders := s.reserve(b, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := (engine.Rules{Store: s.st}).PaymentConfirm(context.Background(), notification(orders[i])); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConfirmDuplicate is a notification whose trade was applied
// before.
func BenchmarkConfirmDuplicate(b *testing.B) {
	s := openBench(b)
	o := s.reserve(b, 1)[0]
	if _, err := (engine.Rules{Store: s.st}).PaymentConfirm(context.Background(), notification(o)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := (engine.Rules{Store: s.st}).PaymentConfirm(context.Background(), notification(o))
		if err != nil || !res.Duplicate {
			b.Fatal(err, res)
		}
	}
}

// BenchmarkConfirmParallel is many notifications at once, as when a
// gateway delivers a burst: 64 goroutines each confirm their own orders.
func BenchmarkConfirmParallel(b *testing.B) {
	s := openBench(b)
	orders := s.reserve(b, b.N)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32) // × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o := orders[next.Add(1)-1]
			if _, err := (engine.Rules{Store: s.st}).PaymentConfirm(context.Background(), notification(o)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
