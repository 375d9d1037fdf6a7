// Package i18n is the message catalogue of the storefront and the console:
// every text a page shows, in each supported language, one JSON file per
// language (en.json, zh-CN.json) embedded in the binary. Messages are
// fmt formats; every language has the same keys, which a test checks.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

//go:embed *.json
var files embed.FS

// Default is the language of a visitor who states none we have.
const Default = "zh-CN"

// Catalog holds every language's messages. It is read-only after New and
// safe for concurrent use.
type Catalog struct {
	langs []string                     // supported tags, Default first
	msgs  map[string]map[string]string // tag → key → format
}

// New loads the embedded catalogue.
func New() (*Catalog, error) {
	c := &Catalog{msgs: map[string]map[string]string{}}
	names, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, fmt.Errorf("i18n: list catalogues: %w", err)
	}
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("i18n: read %s: %w", name, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("i18n: parse %s: %w", name, err)
		}
		tag := strings.TrimSuffix(name, ".json")
		c.msgs[tag] = m
		c.langs = append(c.langs, tag)
	}
	if c.msgs[Default] == nil {
		return nil, fmt.Errorf("i18n: no catalogue for the default language %s", Default)
	}
	slices.SortFunc(c.langs, func(a, b string) int {
		switch {
		case a == Default:
			return -1
		case b == Default:
			return 1
		}
		return strings.Compare(a, b)
	})
	return c, nil
}

// Langs returns the supported language tags, the default first.
func (c *Catalog) Langs() []string { return slices.Clone(c.langs) }

// Keys returns the message keys of a language, sorted.
func (c *Catalog) Keys(lang string) []string {
	var out []string
	for k := range c.msgs[lang] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Match returns the supported language for a tag such as "en-US" or "zh",
// and false when there is none.
func (c *Catalog) Match(tag string) (string, bool) {
	tag = strings.TrimSpace(tag)
	if tag == "" {
		return "", false
	}
	for _, l := range c.langs {
		if strings.EqualFold(l, tag) {
			return l, true
		}
	}
	base, _, _ := strings.Cut(tag, "-")
	for _, l := range c.langs {
		lb, _, _ := strings.Cut(l, "-")
		if strings.EqualFold(lb, base) {
			return l, true
		}
	}
	return "", false
}

// Negotiate picks the best supported language for an Accept-Language
// header, by quality and then order, or Default.
func (c *Catalog) Negotiate(acceptLanguage string) string {
	if l, ok := c.NegotiateMatch(acceptLanguage); ok {
		return l
	}
	return Default
}

// NegotiateMatch is Negotiate that reports whether the header named a
// supported language, so that a caller can fall back to its own default
// (the shop's default language) instead of Default.
func (c *Catalog) NegotiateMatch(acceptLanguage string) (string, bool) {
	best, bestQ := "", 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if q <= bestQ {
			continue
		}
		if l, ok := c.Match(tag); ok {
			best, bestQ = l, q
		}
	}
	return best, best != ""
}

// Printer returns the messages of one language (Default when lang is not
// supported).
func (c *Catalog) Printer(lang string) *Printer {
	m, ok := c.msgs[lang]
	if !ok {
		lang, m = Default, c.msgs[Default]
	}
	return &Printer{lang: lang, msgs: m, fallback: c.msgs["en"]}
}

// Printer formats the messages of one language.
type Printer struct {
	lang     string
	msgs     map[string]string
	fallback map[string]string
}

// Lang returns the printer's language tag.
func (p *Printer) Lang() string { return p.lang }

// T returns the message key formatted with args. A key missing from the
// language falls back to English, then to the key itself, so that a
// missing text shows up as a visible key rather than as nothing.
func (p *Printer) T(key string, args ...any) string {
	f, ok := p.msgs[key]
	if !ok {
		if f, ok = p.fallback[key]; !ok {
			return key
		}
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}
