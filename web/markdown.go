package web

import (
	"bytes"
	"crypto/sha256"
	"html/template"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// markdown renders merchants' Markdown to HTML that is safe to embed.
// Goldmark drops raw HTML and javascript: links (it runs without
// WithUnsafe); bluemonday's UGC policy then strips anything unexpected
// that got through, so a mistake in either does not make an XSS.
type markdown struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy

	mu    sync.Mutex
	cache map[[32]byte]template.HTML // by source hash; bounded below
}

const maxMarkdownCache = 1024

func newMarkdown() *markdown {
	p := bluemonday.UGCPolicy()
	p.RequireNoReferrerOnLinks(true)
	p.RequireNoFollowOnLinks(true)
	return &markdown{
		md:     goldmark.New(goldmark.WithExtensions(extension.GFM)),
		policy: p,
		cache:  map[[32]byte]template.HTML{},
	}
}

// render returns src as sanitised HTML. Descriptions change rarely and
// product pages are hit hard in a sale, so results are cached.
func (m *markdown) render(src string) template.HTML {
	key := sha256.Sum256([]byte(src))
	m.mu.Lock()
	h, ok := m.cache[key]
	m.mu.Unlock()
	if ok {
		return h
	}
	var buf bytes.Buffer
	if err := m.md.Convert([]byte(src), &buf); err != nil {
		// Goldmark fails only on a failing writer; show the text plainly.
		return template.HTML(template.HTMLEscapeString(src))
	}
	h = template.HTML(m.policy.SanitizeBytes(buf.Bytes())) //nolint:gosec // sanitised just now
	m.mu.Lock()
	if len(m.cache) >= maxMarkdownCache {
		clear(m.cache)
	}
	m.cache[key] = h
	m.mu.Unlock()
	return h
}
