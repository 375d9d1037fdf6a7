package i18n_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/faka-dev/faka/web/i18n"
)

func TestCatalogueComplete(t *testing.T) {
	t.Parallel()
	c, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	langs := c.Langs()
	if !slices.Equal(langs, []string{"zh-CN", "en"}) {
		t.Fatalf("languages %v", langs)
	}
	verbs := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)
	en := c.Keys("en")
	for _, lang := range langs {
		keys := c.Keys(lang)
		if !slices.Equal(keys, en) {
			t.Errorf("%s has other keys than en: %d vs %d", lang, len(keys), len(en))
		}
		p := c.Printer(lang)
		for _, k := range keys {
			msg := p.T(k)
			if msg == "" || msg == k {
				t.Errorf("%s: %s is empty", lang, k)
			}
			if got, want := verbs.FindAllString(msg, -1), verbs.FindAllString(c.Printer("en").T(k), -1); !slices.Equal(got, want) {
				t.Errorf("%s: %s has the verbs %v, English %v", lang, k, got, want)
			}
		}
	}
}

func TestNegotiate(t *testing.T) {
	t.Parallel()
	c, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	for header, want := range map[string]string{
		"":                          "zh-CN",
		"en-US,en;q=0.9":            "en",
		"zh-TW,zh;q=0.9,en;q=0.8":   "zh-CN",
		"fr-FR, en;q=0.5, zh;q=0.4": "en",
		"de;q=1.0, zh-CN;q=0.2":     "zh-CN",
		"en;q=0.1, zh;q=0.9":        "zh-CN",
		"en;q=oops, zh-cn":          "zh-CN",
		"*":                         "zh-CN",
		"EN":                        "en",
	} {
		if got := c.Negotiate(header); got != want {
			t.Errorf("Negotiate(%q) = %q, want %q", header, got, want)
		}
	}
	if p := c.Printer("xx"); p.Lang() != i18n.Default {
		t.Errorf("an unknown language prints in %s", p.Lang())
	}
	if got := c.Printer("en").T("stock.exact", 3); got != "3 in stock" {
		t.Errorf("T with an argument: %q", got)
	}
	if got := c.Printer("en").T("no.such.key"); got != "no.such.key" {
		t.Errorf("a missing key prints %q", got)
	}
}
