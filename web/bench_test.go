package web_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/sandbox"
	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/web"
)

// The handler's micro-benchmarks: one order request through the whole
// handler (no network), as most of a drop's requests are once the keys
// are gone. Compare runs with benchstat.

func benchServer(b *testing.B) (*web.Server, *engine.Engine) {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "faka.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	kr, err := keyring.New(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	e, err := engine.New(engine.Config{Store: st, Keyring: kr, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	e.Start(ctx)
	b.Cleanup(e.Close)
	gw, err := sandbox.New([]byte("bench-secret"), "http://127.0.0.1:1")
	if err != nil {
		b.Fatal(err)
	}
	gws, err := payment.NewRegistry(gw)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := web.New(web.Config{Engine: e, Gateways: gws, Logger: quiet, Registry: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	return srv, e
}

// BenchmarkCreateOrderSoldOut is POST /api/v1/orders for a product the
// admission gate knows to be sold out.
func BenchmarkCreateOrderSoldOut(b *testing.B) {
	srv, e := benchServer(b)
	p := &faka.Product{Name: "bench", Price: 100, Currency: "CNY", ReservationTTL: time.Hour, Active: true}
	if err := e.CreateProduct(context.Background(), p, 0, nil); err != nil {
		b.Fatal(err)
	}
	body := fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"buyer@example.com","gateway":"sandbox"}`, p.ID)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != http.StatusConflict {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
}
