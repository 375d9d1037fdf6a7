package poller_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/poller"
	"github.com/faka-dev/faka/postgres"
)

// TestInstancesOnPostgresApplyOnce is TestPollersAndNotificationApplyOnce
// as two instances on one PostgreSQL database would run it: two stores
// (two connection pools) with an engine and a poller each, and the
// notifications arriving through the second instance meanwhile. It runs
// when FAKA_TEST_DATABASE_URL is set, like the postgres package's tests.
func TestInstancesOnPostgresApplyOnce(t *testing.T) {
	t.Parallel()
	url := os.Getenv("FAKA_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("FAKA_REQUIRE_POSTGRES") == "1" {
			t.Fatal("FAKA_REQUIRE_POSTGRES=1 but FAKA_TEST_DATABASE_URL is not set")
		}
		t.Skip("FAKA_TEST_DATABASE_URL is not set; PostgreSQL test skipped")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "faka_test_poller_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	kr, err := keyring.New(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	gw := newFakeGateway("fakepay")
	reg, err := payment.NewRegistry(gw)
	if err != nil {
		t.Fatal(err)
	}
	type instance struct {
		st *postgres.Store
		e  *engine.Engine
		p  *poller.Poller
	}
	var in [2]instance
	for i := range in {
		st, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, MaxConns: 8})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		e, err := engine.New(engine.Config{Store: st, Keyring: kr, Logger: quiet, SweepInterval: time.Hour, ResyncInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		e.Start(ctx)
		t.Cleanup(e.Close)
		p, err := poller.New(e.ConfirmPayment, st, reg, quiet, poller.Options{MinAge: time.Millisecond, Batch: 4 + i, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		in[i] = instance{st, e, p}
	}

	const n = 30
	prod := &faka.Product{Name: "Card", Price: 990, Currency: "CNY", ReservationTTL: time.Hour, Active: true}
	if err := in[0].e.CreateProduct(ctx, prod, 0, nil); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "KEY-%d-%04d\n", prod.ID, i)
	}
	if res, err := in[0].e.ImportKeys(ctx, prod.ID, strings.NewReader(sb.String())); err != nil || res.Imported != n {
		t.Fatalf("import: %+v, %v", res, err)
	}
	var orders []*faka.Order
	var notes []faka.Notification
	for i := range n {
		r, err := in[0].e.Reserve(ctx, engine.ReserveRequest{ProductID: prod.ID, Quantity: 1, Email: "buyer@example.com", Gateway: "fakepay"})
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, r.Order)
		notes = append(notes, gw.pay(r.Order, fmt.Sprintf("T-%03d", i)))
	}
	// Past MinAge by the database clock.
	for {
		now, err := in[0].st.Now(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if now.Sub(orders[n-1].CreatedAt) > 10*time.Millisecond {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}

	var mu sync.Mutex
	var confirmed, duplicates, applied int
	var wg sync.WaitGroup
	for _, x := range in {
		wg.Go(func() {
			for {
				st, err := x.p.Tick(ctx)
				if err != nil {
					t.Errorf("Tick: %v", err)
					return
				}
				if st.Errors != 0 {
					t.Errorf("Tick: %+v", st)
				}
				mu.Lock()
				confirmed += st.Confirmed
				duplicates += st.Duplicates
				mu.Unlock()
				if st.Claimed == 0 {
					return
				}
			}
		})
	}
	wg.Go(func() {
		for _, nt := range slices.Backward(notes) {
			res, err := in[1].e.ConfirmPayment(ctx, nt)
			if err != nil {
				t.Errorf("notification %s: %v", nt.TradeNo, err)
				return
			}
			if !res.Duplicate {
				mu.Lock()
				applied++
				mu.Unlock()
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	if confirmed+applied != n {
		t.Fatalf("pollers applied %d payments and notifications %d; want %d in all", confirmed, applied, n)
	}
	t.Logf("pollers applied %d, notifications %d, pollers found %d already applied", confirmed, applied, duplicates)
	for i, o := range orders {
		got, err := in[0].st.OrderGet(ctx, o.OrderNo)
		if err != nil || got.Status != faka.StatusDelivered {
			t.Fatalf("order %s: %v, %v; want delivered", o.OrderNo, got, err)
		}
		pays, err := in[0].st.PaymentsByOrder(ctx, o.ID)
		if err != nil || len(pays) != 1 || pays[0].TradeNo != notes[i].TradeNo {
			t.Fatalf("order %s payments %+v, %v; want one", o.OrderNo, pays, err)
		}
		if q, _ := gw.counts(o.OrderNo); q > 1 {
			t.Fatalf("order %s was queried %d times by two instances; claims must be exclusive", o.OrderNo, q)
		}
	}
	rep, err := in[0].e.Reconcile(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("reconcile: %+v, %v", rep, err)
	}
	if s := rep.Products[0]; s.Sold != n || s.Reserved != 0 {
		t.Fatalf("stock %+v, want %d sold", s, n)
	}
}
