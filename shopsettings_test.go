package faka_test

import (
	"strings"
	"testing"

	"github.com/faka-dev/faka"
)

func TestShopSettingsValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		edit  func(s *faka.ShopSettings)
		field string // "" when valid
	}{
		{"defaults", func(s *faka.ShopSettings) {}, ""},
		{"https logo", func(s *faka.ShopSettings) { s.LogoURL = "https://cdn.example.com/a/logo.png?v=2" }, ""},
		{"path logo", func(s *faka.ShopSettings) { s.LogoURL = "/static/logo.svg" }, ""},
		{"english", func(s *faka.ShopSettings) { s.DefaultLanguage = "en" }, ""},
		{"utc", func(s *faka.ShopSettings) { s.Timezone = "UTC" }, ""},
		{"multiline notice", func(s *faka.ShopSettings) { s.Notice = "# a\r\n\tb" }, ""},
		{"empty name", func(s *faka.ShopSettings) { s.Name = " " }, "name"},
		{"long name", func(s *faka.ShopSettings) { s.Name = strings.Repeat("店", faka.MaxShopName+1) }, "name"},
		{"newline in name", func(s *faka.ShopSettings) { s.Name = "a\nb" }, "name"},
		{"bad utf-8 tagline", func(s *faka.ShopSettings) { s.Tagline = "\xff" }, "tagline"},
		{"long notice", func(s *faka.ShopSettings) { s.Notice = strings.Repeat("x", faka.MaxShopNotice+1) }, "notice"},
		{"nul in contact", func(s *faka.ShopSettings) { s.Contact = "a\x00" }, "contact"},
		{"http logo", func(s *faka.ShopSettings) { s.LogoURL = "http://example.com/l.png" }, "logo_url"},
		{"javascript logo", func(s *faka.ShopSettings) { s.LogoURL = "javascript:alert(1)" }, "logo_url"},
		{"protocol-relative logo", func(s *faka.ShopSettings) { s.LogoURL = "//evil.example/l.png" }, "logo_url"},
		{"relative logo", func(s *faka.ShopSettings) { s.LogoURL = "logo.png" }, "logo_url"},
		{"quote in logo", func(s *faka.ShopSettings) { s.LogoURL = `/a"onerror="x` }, "logo_url"},
		{"https without host", func(s *faka.ShopSettings) { s.LogoURL = "https:///x" }, "logo_url"},
		{"unknown zone", func(s *faka.ShopSettings) { s.Timezone = "Asia/Atlantis" }, "timezone"},
		{"local zone", func(s *faka.ShopSettings) { s.Timezone = "Local" }, "timezone"},
		{"path zone", func(s *faka.ShopSettings) { s.Timezone = "../../etc/passwd" }, "timezone"},
		{"empty zone", func(s *faka.ShopSettings) { s.Timezone = "" }, "timezone"},
		{"language", func(s *faka.ShopSettings) { s.DefaultLanguage = "zh" }, "default_language"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := faka.DefaultShopSettings()
			tc.edit(&s)
			err := s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid settings refused: %v", err)
				}
				return
			}
			if faka.ErrorCode(err) != faka.EInvalid || !strings.HasPrefix(faka.ErrorMessage(err), tc.field) {
				t.Fatalf("got %v, want %s naming %s", err, faka.EInvalid, tc.field)
			}
		})
	}
}

func TestShopSettingsLocation(t *testing.T) {
	t.Parallel()
	s := faka.DefaultShopSettings()
	if got := s.Location().String(); got != "Asia/Shanghai" {
		t.Fatalf("default location %s", got)
	}
	s.Timezone = "Europe/Berlin"
	if got := s.Location().String(); got != "Europe/Berlin" {
		t.Fatalf("location %s", got)
	}
	s.Timezone = "Nowhere/Never"
	if got := s.Location().String(); got != "Asia/Shanghai" {
		t.Fatalf("unknown zone falls back to %s", got)
	}
}

func TestShopSettingsUpdateApply(t *testing.T) {
	t.Parallel()
	s := faka.DefaultShopSettings()
	name, empty := "Mine", ""
	faka.ShopSettingsUpdate{Name: &name, Notice: &empty}.Apply(&s)
	want := faka.DefaultShopSettings()
	want.Name = "Mine"
	if s != want {
		t.Fatalf("applied: %+v, want %+v", s, want)
	}
}
