package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
)

// The engine's micro-benchmarks: reservations through the admission gate
// and the per-product batcher into the SQLite store (synchronous=FULL),
// and payments. Compare runs with benchstat:
//
//	go test -run '^$' -bench . -count 6 ./engine/ > new.txt
//	benchstat old.txt new.txt

func benchEngine(b *testing.B, keys int) (*engine.Engine, *faka.Product) {
	b.Helper()
	ctx := context.Background()
	e, _ := newEngine(b, 0, 0)
	p := &faka.Product{Name: "bench", Price: 100, Currency: "CNY", ReservationTTL: time.Hour, Active: true}
	if err := e.CreateProduct(ctx, p, 0, nil); err != nil {
		b.Fatal(err)
	}
	for done := 0; done < keys; {
		n := min(keys-done, engine.MaxImportKeys)
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, "KEY-%08d\n", done+i)
		}
		if _, err := e.ImportKeys(ctx, p.ID, strings.NewReader(sb.String())); err != nil {
			b.Fatal(err)
		}
		done += n
	}
	return e, p
}

func benchReserve(e *engine.Engine, pid int64) (*engine.Reservation, error) {
	return e.Reserve(context.Background(), engine.ReserveRequest{ProductID: pid, Quantity: 1,
		Email: "buyer@example.com", Gateway: "sandbox"})
}

// BenchmarkReserve is buyers reserving one key each, 64 at a time per
// CPU, with enough stock for all: the gate admits everyone and the batcher
// groups them into transactions.
func BenchmarkReserve(b *testing.B) {
	e, p := benchEngine(b, b.N)
	b.ReportAllocs()
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := benchReserve(e, p.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReserveSoldOut is a buyer turned away by the admission gate:
// what most of a drop's requests cost once the keys are gone.
func BenchmarkReserveSoldOut(b *testing.B) {
	e, p := benchEngine(b, 1)
	if _, err := benchReserve(e, p.ID); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := benchReserve(e, p.ID); faka.ErrorCode(err) != faka.ESoldOut {
				b.Errorf("want sold out, got %v", err)
				return
			}
		}
	})
}

// BenchmarkConfirmPayment is payments arriving 64 at a time per CPU, each
// for its own pending order.
func BenchmarkConfirmPayment(b *testing.B) {
	e, p := benchEngine(b, b.N)
	orders := make([]*faka.Order, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(orders)); i = next.Add(1) - 1 {
				r, err := benchReserve(e, p.ID)
				if err != nil {
					b.Error(err)
					return
				}
				orders[i] = r.Order
			}
		}()
	}
	wg.Wait()
	next.Store(0)
	b.ReportAllocs()
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o := orders[next.Add(1)-1]
			if _, err := e.ConfirmPayment(context.Background(), faka.Notification{Gateway: "sandbox",
				OrderNo: o.OrderNo, TradeNo: "T" + o.OrderNo, Amount: o.Amount, Currency: o.Currency}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
