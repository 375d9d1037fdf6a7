package faka

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the shop settings, in characters.
const (
	MaxShopName    = 100
	MaxShopTagline = 200
	MaxShopNotice  = 20000
	MaxShopContact = 500
	MaxShopLogoURL = 2000
)

// Languages a shop may choose as its default.
const (
	LangZhCN = "zh-CN"
	LangEn   = "en"
)

// Defaults of a shop that never saved its settings.
const (
	DefaultShopName     = "faka"
	DefaultShopTimezone = "Asia/Shanghai"
	DefaultShopLanguage = LangZhCN
)

// ShopSettings are what a merchant puts their name on: how the shop calls
// itself, what it tells buyers, and the zone its times are shown in.
type ShopSettings struct {
	Name            string
	Tagline         string // one line, the pages' meta description
	Notice          string // Markdown, shown on the home page
	Contact         string // how buyers reach the merchant
	LogoURL         string // https://… or a path under the shop (/…); "" for none
	Timezone        string // IANA name, such as Asia/Shanghai
	DefaultLanguage string // LangZhCN or LangEn
	UpdatedAt       time.Time
}

// DefaultShopSettings returns the settings of a shop that never saved any.
func DefaultShopSettings() ShopSettings {
	return ShopSettings{Name: DefaultShopName, Timezone: DefaultShopTimezone, DefaultLanguage: DefaultShopLanguage}
}

// Validate tidies the settings (trims the one-line fields) and reports the
// first problem as EInvalid, with a message that starts with the field's
// API name.
func (s *ShopSettings) Validate() error {
	s.Name = strings.TrimSpace(s.Name)
	s.Tagline = strings.TrimSpace(s.Tagline)
	s.Contact = strings.TrimSpace(s.Contact)
	s.LogoURL = strings.TrimSpace(s.LogoURL)
	s.Timezone = strings.TrimSpace(s.Timezone)
	for _, f := range []struct {
		field, value string
		max          int
		multiline    bool
	}{
		{"name", s.Name, MaxShopName, false},
		{"tagline", s.Tagline, MaxShopTagline, false},
		{"notice", s.Notice, MaxShopNotice, true},
		{"contact", s.Contact, MaxShopContact, true},
	} {
		if err := checkText(f.field, f.value, f.max, f.multiline); err != nil {
			return err
		}
	}
	if s.Name == "" {
		return Errorf(EInvalid, "name is required")
	}
	if err := checkLogoURL(s.LogoURL); err != nil {
		return err
	}
	if s.Timezone == "" {
		return Errorf(EInvalid, "timezone is required (an IANA name such as %s)", DefaultShopTimezone)
	}
	// time.LoadLocation also accepts "Local" and file paths; neither is
	// a zone a buyer can be told.
	if s.Timezone == "Local" || strings.ContainsAny(s.Timezone, `\.`) || strings.HasPrefix(s.Timezone, "/") {
		return Errorf(EInvalid, "timezone %q is not an IANA time zone name", s.Timezone)
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil {
		return Errorf(EInvalid, "timezone %q is not a known IANA time zone", s.Timezone)
	}
	if s.DefaultLanguage != LangZhCN && s.DefaultLanguage != LangEn {
		return Errorf(EInvalid, "default_language must be %s or %s", LangZhCN, LangEn)
	}
	return nil
}

// checkText checks one text field: valid UTF-8, at most max characters,
// no control characters but, when multiline, line breaks and tabs.
func checkText(field, v string, max int, multiline bool) error {
	if !utf8.ValidString(v) {
		return Errorf(EInvalid, "%s must be valid UTF-8 text", field)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return Errorf(EInvalid, "%s must be at most %d characters, not %d", field, max, n)
	}
	for _, r := range v {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return Errorf(EInvalid, "%s must not hold control characters", field)
		}
	}
	return nil
}

// checkLogoURL accepts "", an absolute https URL with a host, or a path
// under the shop ("/…", not "//…", which a browser reads as another host).
func checkLogoURL(v string) error {
	if v == "" {
		return nil
	}
	if err := checkText("logo_url", v, MaxShopLogoURL, false); err != nil {
		return err
	}
	if strings.ContainsAny(v, " \\\"'<>") {
		return Errorf(EInvalid, "logo_url must not hold spaces, quotes, angle brackets or backslashes")
	}
	u, err := url.Parse(v)
	if err != nil {
		return Errorf(EInvalid, "logo_url is not a URL: %w", err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "" && u.User == nil:
		return nil
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//"):
		return nil
	}
	return Errorf(EInvalid, "logo_url must be an https:// URL or a path under the shop starting with /")
}

// Location returns the shop's time zone; an unknown one (never stored: it
// is validated) falls back to the default zone, then UTC.
func (s ShopSettings) Location() *time.Location {
	for _, name := range []string{s.Timezone, DefaultShopTimezone} {
		if loc, err := time.LoadLocation(name); err == nil && name != "" {
			return loc
		}
	}
	return time.UTC
}

// ShopSettingsUpdate changes some of the shop settings: nil fields keep
// their value.
type ShopSettingsUpdate struct {
	Name, Tagline, Notice, Contact, LogoURL, Timezone, DefaultLanguage *string
}

// Apply writes the fields that are set into s.
func (u ShopSettingsUpdate) Apply(s *ShopSettings) {
	for _, f := range []struct {
		from *string
		to   *string
	}{
		{u.Name, &s.Name}, {u.Tagline, &s.Tagline}, {u.Notice, &s.Notice}, {u.Contact, &s.Contact},
		{u.LogoURL, &s.LogoURL}, {u.Timezone, &s.Timezone}, {u.DefaultLanguage, &s.DefaultLanguage},
	} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
}

// ShopSettingsStore keeps the shop settings. Implementations: sqlite and
// postgres.
type ShopSettingsStore interface {
	// ShopSettingsGet returns the stored settings, or DefaultShopSettings
	// (with a zero UpdatedAt) when none were ever saved.
	ShopSettingsGet(ctx context.Context) (ShopSettings, error)
	// ShopSettingsUpdate applies u to the stored settings (the defaults
	// when none) and saves the result in one transaction, so that two
	// updates of different fields both stay. A result that fails
	// Validate is an EInvalid error and changes nothing.
	ShopSettingsUpdate(ctx context.Context, u ShopSettingsUpdate) (ShopSettings, error)
}
