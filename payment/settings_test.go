package payment_test

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
)

// memStore is a faka.GatewayStore in memory.
type memStore struct {
	mu   sync.Mutex
	rows map[string]faka.GatewaySetting
	tick int64
}

func (m *memStore) GatewaySettingsGet(_ context.Context, name string) (*faka.GatewaySetting, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gs, ok := m.rows[name]
	if !ok {
		return nil, faka.Errorf(faka.ENotFound, "not found")
	}
	return &gs, nil
}

func (m *memStore) GatewaySettingsPut(_ context.Context, gs *faka.GatewaySetting) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick++
	gs.UpdatedAt = time.UnixMilli(m.tick)
	m.rows[gs.Name] = *gs
	return nil
}

func (m *memStore) GatewaySettingsList(context.Context) ([]*faka.GatewaySetting, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*faka.GatewaySetting
	for _, gs := range m.rows {
		out = append(out, &gs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// kindOf is a configurable stub gateway with a secret field.
func kindOf(name string) payment.Kind {
	return payment.Kind{
		Name:   name,
		Fields: []payment.Field{{Name: "id", Required: true}, {Name: "secret", Required: true, Secret: true}, {Name: "note"}},
		New: func(s payment.Settings, _ payment.Env) (payment.Gateway, error) {
			if s["id"] == "bad" {
				return nil, faka.Errorf(faka.EInvalid, "id is bad")
			}
			return stub{name}, nil
		},
	}
}

func newManager(t *testing.T, st faka.GatewayStore) (*payment.Manager, *payment.Registry) {
	t.Helper()
	kr, err := keyring.New(bytes.Repeat([]byte{3}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := payment.NewRegistry()
	m, err := payment.NewManager(st, kr, reg, payment.Env{PublicURL: "https://shop.example.com/", Client: http.DefaultClient},
		kindOf("alpha"), kindOf("beta"))
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestManager(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &memStore{rows: map[string]faka.GatewaySetting{}}
	m, reg := newManager(t, st)
	for _, tc := range []struct {
		name, body, code string
	}{
		{"alpha", `{"id":"1","secret":"s","enabled":true,"x":1}`, faka.EInvalid},
		{"alpha", `{"id":"1","enabled":true}`, faka.EInvalid},
		{"alpha", `{"id":"1","secret":"s"}`, faka.EInvalid},
		{"alpha", `{"id":"bad","secret":"s","enabled":true}`, faka.EInvalid},
		{"alpha", `{"id":"1","secret":"••••abcd","enabled":true}`, faka.EInvalid},
		{"alpha", `{"id":"1\u0001x","secret":"s","enabled":true}`, faka.EInvalid},
		{"alpha", `{"id":true,"secret":"s","enabled":true}`, faka.EInvalid},
		{"alpha", `[]`, faka.EBadRequest},
		{"alpha", `{"enabled":true} {}`, faka.EBadRequest},
		{"gamma", `{"enabled":true}`, faka.ENotFound},
	} {
		if _, err := m.Put(ctx, tc.name, []byte(tc.body)); faka.ErrorCode(err) != tc.code {
			t.Errorf("Put %s %s: %v, want %s", tc.name, tc.body, err, tc.code)
		}
	}
	if len(st.rows) != 0 || len(reg.Names()) != 0 {
		t.Fatal("a refused Put stored or enabled something")
	}
	v, err := m.Put(ctx, "alpha", []byte(`{"id":42,"secret":"supersecretvalue","enabled":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if v.Settings["secret"] != "••••alue" || v.Settings["id"] != "42" || !v.Active || !v.Default {
		t.Fatalf("view %+v", v)
	}
	if bytes.Contains(st.rows["alpha"].Sealed, []byte("supersecretvalue")) {
		t.Fatal("the secret is stored in the clear")
	}
	if _, err := m.Put(ctx, "beta", []byte(`{"id":"b","secret":"short","enabled":false}`)); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Get("beta"); ok {
		t.Fatal("a disabled gateway is in the registry")
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 2 || list[1].Settings["secret"] != "••••" || list[1].Enabled {
		t.Fatalf("list %+v, %v", list, err)
	}

	// A second instance on the same store loads what the first stored.
	m2, reg2 := newManager(t, st)
	if err := m2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := reg2.Names(); len(got) != 1 || got[0] != "alpha" {
		t.Fatalf("loaded %v", got)
	}
	// The first disables alpha; the second follows on its next Load.
	if _, err := m.Put(ctx, "alpha", []byte(`{"enabled":false}`)); err != nil {
		t.Fatal(err)
	}
	if err := m2.Load(ctx); err != nil || len(reg2.Names()) != 0 {
		t.Fatalf("after reload %v, %v", reg2.Names(), err)
	}
	// Sealed settings moved to another name do not open.
	rows := st.rows
	a := rows["alpha"]
	a.Name, a.Enabled = "beta", true
	st.GatewaySettingsPut(ctx, &a)
	m3, reg3 := newManager(t, st)
	if err := m3.Load(ctx); err == nil {
		t.Fatal("settings sealed for alpha opened as beta's")
	}
	if len(reg3.Names()) != 0 {
		t.Fatalf("enabled %v from unopenable settings", reg3.Names())
	}
}

// TestMultiline checks that only fields marked Multiline take line breaks
// (a PEM key), kept as LF, and that Kinds lists the kinds in order.
func TestMultiline(t *testing.T) {
	t.Parallel()
	kr, err := keyring.New(bytes.Repeat([]byte{4}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := payment.NewRegistry()
	var mu sync.Mutex
	var built payment.Settings
	pem := payment.Kind{
		Name:   "pem",
		Fields: []payment.Field{{Name: "id", Required: true}, {Name: "key", Required: true, Secret: true, Multiline: true}},
		New: func(s payment.Settings, _ payment.Env) (payment.Gateway, error) {
			mu.Lock()
			built = s
			mu.Unlock()
			return stub{"pem"}, nil
		},
	}
	m, err := payment.NewManager(&memStore{rows: map[string]faka.GatewaySetting{}}, kr, reg, payment.Env{PublicURL: "https://shop.example.com"}, pem, kindOf("alpha"))
	if err != nil {
		t.Fatal(err)
	}
	if ks := m.Kinds(); len(ks) != 2 || ks[0].Name != "pem" || ks[1].Name != "alpha" || !ks[0].Fields[1].Multiline {
		t.Fatalf("Kinds() = %+v", ks)
	}
	ctx := t.Context()
	if _, err := m.Put(ctx, "pem", []byte(`{"id":"a\nb","key":"x","enabled":true}`)); faka.ErrorCode(err) != faka.EInvalid {
		t.Errorf("a line break in a one-line field: %v, want EInvalid", err)
	}
	if _, err := m.Put(ctx, "pem", []byte(`{"id":"a","key":"-----BEGIN-----\r\nAAAA\u0000\r\n-----END-----","enabled":true}`)); faka.ErrorCode(err) != faka.EInvalid {
		t.Errorf("a NUL in a multiline field: %v, want EInvalid", err)
	}
	if _, err := m.Put(ctx, "pem", []byte(`{"id":"a","key":"-----BEGIN-----\r\nAAAA\r\n-----END-----\r\n","enabled":true}`)); err != nil {
		t.Fatalf("a PEM key in a multiline field: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := built["key"]; got != "-----BEGIN-----\nAAAA\n-----END-----" {
		t.Errorf("the gateway was built with key %q", got)
	}
}
