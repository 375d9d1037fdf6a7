package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/faka-dev/faka"
)

// GatewayDriver is a store that also keeps the payment gateways' settings.
type GatewayDriver interface {
	faka.Store
	faka.GatewayStore
}

// RunGateway runs the conformance suite of faka.GatewayStore against the
// stores open returns (a fresh, empty one per call):
//
//	func TestGatewayConformance(t *testing.T) { storetest.RunGateway(t, openGatewayStore) }
func RunGateway(t *testing.T, open func(t *testing.T) GatewayDriver) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, st GatewayDriver)
	}{
		{"PutGetRoundTrip", testGatewayRoundTrip},
		{"PutReplaces", testGatewayReplace},
		{"List", testGatewayList},
		{"GetNotFound", testGatewayNotFound},
		{"PutInvalid", testGatewayInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func testGatewayRoundTrip(t *testing.T, st GatewayDriver) {
	ctx := t.Context()
	before := time.Now().Add(-time.Minute)
	gs := &faka.GatewaySetting{Name: "epay", Enabled: true, Sealed: []byte{0, 1, 2, 0xff, 'x'}}
	if err := st.GatewaySettingsPut(ctx, gs); err != nil {
		t.Fatalf("put: %v", err)
	}
	if gs.UpdatedAt.Before(before) {
		t.Fatalf("UpdatedAt %v not set", gs.UpdatedAt)
	}
	got, err := st.GatewaySettingsGet(ctx, "epay")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Name != "epay" || !got.Enabled || !bytes.Equal(got.Sealed, gs.Sealed) {
		t.Fatalf("got %+v, want %+v", got, gs)
	}
	if !got.UpdatedAt.Equal(gs.UpdatedAt.Truncate(time.Millisecond)) && !got.UpdatedAt.Equal(gs.UpdatedAt) {
		t.Fatalf("UpdatedAt %v, put said %v", got.UpdatedAt, gs.UpdatedAt)
	}
}

func testGatewayReplace(t *testing.T, st GatewayDriver) {
	ctx := t.Context()
	if err := st.GatewaySettingsPut(ctx, &faka.GatewaySetting{Name: "usdt", Enabled: true, Sealed: []byte("one")}); err != nil {
		t.Fatal(err)
	}
	if err := st.GatewaySettingsPut(ctx, &faka.GatewaySetting{Name: "usdt", Enabled: false, Sealed: []byte("two")}); err != nil {
		t.Fatalf("replace: %v", err)
	}
	got, err := st.GatewaySettingsGet(ctx, "usdt")
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || string(got.Sealed) != "two" {
		t.Fatalf("after replace %+v", got)
	}
	all, err := st.GatewaySettingsList(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("list after replace: %d rows, %v", len(all), err)
	}
}

func testGatewayList(t *testing.T, st GatewayDriver) {
	ctx := t.Context()
	if all, err := st.GatewaySettingsList(ctx); err != nil || len(all) != 0 {
		t.Fatalf("empty store lists %d, %v", len(all), err)
	}
	for _, name := range []string{"wechat", "alipay", "epay", "a_b", "a-b"} {
		if err := st.GatewaySettingsPut(ctx, &faka.GatewaySetting{Name: name, Enabled: name != "alipay", Sealed: []byte(name)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := st.GatewaySettingsList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, gs := range all {
		names = append(names, gs.Name)
		if string(gs.Sealed) != gs.Name || gs.Enabled != (gs.Name != "alipay") {
			t.Errorf("listed %+v", gs)
		}
	}
	// Byte order: '-' (0x2d) before '_' (0x5f), whatever the collation.
	want := []string{"a-b", "a_b", "alipay", "epay", "wechat"}
	if len(names) != len(want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names %v, want %v", names, want)
		}
	}
}

func testGatewayNotFound(t *testing.T, st GatewayDriver) {
	_, err := st.GatewaySettingsGet(t.Context(), "nope")
	if faka.ErrorCode(err) != faka.ENotFound {
		t.Fatalf("get unknown: %v, want not_found", err)
	}
}

func testGatewayInvalid(t *testing.T, st GatewayDriver) {
	ctx := t.Context()
	for _, gs := range []*faka.GatewaySetting{
		{Name: "", Sealed: []byte("x")},
		{Name: "epay"},
	} {
		if err := st.GatewaySettingsPut(ctx, gs); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("put %+v: %v, want invalid", gs, err)
		}
	}
	if all, _ := st.GatewaySettingsList(ctx); len(all) != 0 {
		t.Fatalf("an invalid put stored %d rows", len(all))
	}
}
