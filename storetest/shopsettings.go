package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/faka-dev/faka"
)

// ShopSettingsDriver is a store that also keeps the shop settings.
type ShopSettingsDriver interface {
	faka.Store
	faka.ShopSettingsStore
}

// RunShopSettings runs the conformance suite of faka.ShopSettingsStore
// against the stores open returns (a fresh, empty one per call):
//
//	func TestShopSettingsConformance(t *testing.T) { storetest.RunShopSettings(t, openStore) }
func RunShopSettings(t *testing.T, open func(t *testing.T) ShopSettingsDriver) {
	runCases(t, open, []storeCase[ShopSettingsDriver]{
		{"DefaultsWhenNeverSet", testShopSettingsDefaults},
		{"UpdateKeepsAbsentFields", testShopSettingsPartial},
		{"InvalidChangesNothing", testShopSettingsInvalid},
		{"LongestValuesInCharacters", testShopSettingsLongest},
		{"ConcurrentUpdatesBothStay", testShopSettingsConcurrent},
	})
}

func ptr(s string) *string { return &s }

func testShopSettingsDefaults(t *testing.T, st ShopSettingsDriver) {
	got, err := st.ShopSettingsGet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got != faka.DefaultShopSettings() {
		t.Fatalf("never set: %+v, want %+v", got, faka.DefaultShopSettings())
	}
	if got.Name != "faka" || got.Timezone != "Asia/Shanghai" || got.DefaultLanguage != "zh-CN" || !got.UpdatedAt.IsZero() {
		t.Fatalf("defaults: %+v", got)
	}
}

func testShopSettingsPartial(t *testing.T, st ShopSettingsDriver) {
	ctx := t.Context()
	saved, err := st.ShopSettingsUpdate(ctx, faka.ShopSettingsUpdate{Name: ptr("  小店 <b>  "), Notice: ptr("# Hi\n\nline two\n")})
	if err != nil {
		t.Fatal(err)
	}
	if saved.Name != "小店 <b>" || saved.Notice != "# Hi\n\nline two\n" || saved.Timezone != faka.DefaultShopTimezone ||
		saved.DefaultLanguage != faka.LangZhCN || saved.UpdatedAt.IsZero() {
		t.Fatalf("first update returned %+v", saved)
	}
	second, err := st.ShopSettingsUpdate(ctx, faka.ShopSettingsUpdate{Timezone: ptr("Europe/Berlin"),
		DefaultLanguage: ptr("en"), LogoURL: ptr("https://cdn.example.com/logo.png"), Contact: ptr("t.me/shop")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.ShopSettingsGet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := faka.ShopSettings{Name: "小店 <b>", Notice: "# Hi\n\nline two\n", Contact: "t.me/shop",
		LogoURL: "https://cdn.example.com/logo.png", Timezone: "Europe/Berlin", DefaultLanguage: "en"}
	if got.UpdatedAt.IsZero() || got.UpdatedAt.Before(saved.UpdatedAt) || !got.UpdatedAt.Equal(second.UpdatedAt) {
		t.Fatalf("updated_at %v after %v (returned %v)", got.UpdatedAt, saved.UpdatedAt, second.UpdatedAt)
	}
	got.UpdatedAt = want.UpdatedAt
	if got != want {
		t.Fatalf("stored %+v, want %+v", got, want)
	}
	// Clearing a field is a change, not an absent field.
	if _, err := st.ShopSettingsUpdate(ctx, faka.ShopSettingsUpdate{Notice: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.ShopSettingsGet(ctx); err != nil || got.Notice != "" || got.Name != "小店 <b>" {
		t.Fatalf("after clearing the notice: %+v %v", got, err)
	}
}

func testShopSettingsInvalid(t *testing.T, st ShopSettingsDriver) {
	ctx := t.Context()
	for i, tc := range []struct {
		u     faka.ShopSettingsUpdate
		field string
	}{
		{faka.ShopSettingsUpdate{Name: ptr("  ")}, "name"},
		{faka.ShopSettingsUpdate{Name: ptr(strings.Repeat("n", faka.MaxShopName+1))}, "name"},
		{faka.ShopSettingsUpdate{Tagline: ptr(strings.Repeat("t", faka.MaxShopTagline+1))}, "tagline"},
		{faka.ShopSettingsUpdate{Notice: ptr(strings.Repeat("x", faka.MaxShopNotice+1))}, "notice"},
		{faka.ShopSettingsUpdate{Contact: ptr(strings.Repeat("c", faka.MaxShopContact+1))}, "contact"},
		{faka.ShopSettingsUpdate{LogoURL: ptr("http://example.com/logo.png")}, "logo_url"},
		{faka.ShopSettingsUpdate{Timezone: ptr("Mars/Olympus")}, "timezone"},
		{faka.ShopSettingsUpdate{DefaultLanguage: ptr("fr")}, "default_language"},
		// A valid field beside an invalid one is not saved either.
		{faka.ShopSettingsUpdate{Name: ptr("ok"), Timezone: ptr("Local")}, "timezone"},
	} {
		_, err := st.ShopSettingsUpdate(ctx, tc.u)
		if faka.ErrorCode(err) != faka.EInvalid || !strings.HasPrefix(faka.ErrorMessage(err), tc.field) {
			t.Errorf("case %d: %v, want %s naming %s", i, err, faka.EInvalid, tc.field)
		}
		if i == 4 {
			// Refusals after a save leave the saved row too.
			if _, err := st.ShopSettingsUpdate(ctx, faka.ShopSettingsUpdate{Name: ptr("Saved")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := st.ShopSettingsGet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := faka.DefaultShopSettings()
	want.Name = "Saved"
	got.UpdatedAt = want.UpdatedAt
	if got != want {
		t.Fatalf("after refused updates: %+v, want %+v", got, want)
	}
}

// The limits count characters, not bytes: a name of 100 Chinese
// characters (300 bytes) fits in both databases.
func testShopSettingsLongest(t *testing.T, st ShopSettingsDriver) {
	ctx := t.Context()
	u := faka.ShopSettingsUpdate{
		Name:    ptr(strings.Repeat("店", faka.MaxShopName)),
		Tagline: ptr(strings.Repeat("标", faka.MaxShopTagline)),
		Notice:  ptr(strings.Repeat("公", faka.MaxShopNotice)),
		Contact: ptr(strings.Repeat("联", faka.MaxShopContact)),
		LogoURL: ptr("/static/logo.png"),
	}
	if _, err := st.ShopSettingsUpdate(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := st.ShopSettingsGet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != *u.Name || got.Tagline != *u.Tagline || got.Notice != *u.Notice || got.Contact != *u.Contact || got.LogoURL != *u.LogoURL {
		t.Fatalf("longest values not kept: name %d tagline %d notice %d contact %d bytes, logo %q",
			len(got.Name), len(got.Tagline), len(got.Notice), len(got.Contact), got.LogoURL)
	}
}

// Updates of different fields racing each other, the first of them on a
// store that has no row yet, all stay.
func testShopSettingsConcurrent(t *testing.T, st ShopSettingsDriver) {
	ctx := t.Context()
	updates := []faka.ShopSettingsUpdate{
		{Name: ptr("Racer")}, {Tagline: ptr("fast")}, {Notice: ptr("**n**")}, {Contact: ptr("mail")},
		{LogoURL: ptr("/l.png")}, {Timezone: ptr("UTC")}, {DefaultLanguage: ptr("en")},
	}
	var wg sync.WaitGroup
	for i, u := range updates {
		wg.Go(func() {
			if _, err := st.ShopSettingsUpdate(ctx, u); err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := st.ShopSettingsGet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := faka.ShopSettings{Name: "Racer", Tagline: "fast", Notice: "**n**", Contact: "mail", LogoURL: "/l.png",
		Timezone: "UTC", DefaultLanguage: "en", UpdatedAt: got.UpdatedAt}
	if got != want {
		t.Fatalf("after racing updates: %+v, want %+v", got, want)
	}
}
