package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"unicode"
	"unicode/utf8"

	"github.com/faka-dev/faka"
)

func cmdKeys(ctx context.Context, out cli, args []string, getenv func(string) string, stdin io.Reader, log *slog.Logger) error {
	if len(args) == 0 || args[0] != "import" {
		return subcommandHelp(out, args, joinHelp("keys import"))
	}
	var product int64
	c, rest, err := parseCmd(out, "keys import", args[1:], getenv, func(fs *flag.FlagSet) {
		fs.Int64Var(&product, "product", 0, "product ID to import into")
	})
	if err != nil {
		return err
	}
	if product <= 0 || len(rest) != 1 {
		return usageError(`usage: faka keys import --product ID FILE   (FILE "-" reads standard input)`)
	}
	if err := requireShop(ctx, c); err != nil {
		return err
	}
	if err := requireMasterKey(c); err != nil {
		return err
	}
	in := stdin
	if name := rest[0]; name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open keys file: %w", err)
		}
		defer f.Close()
		in = f
	}
	st, e, err := openEngine(ctx, c, log, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	audit := &lineAudit{r: in}
	res, err := e.ImportKeys(ctx, product, audit)
	if err != nil {
		return err
	}
	audit.finish()
	for _, r := range audit.rejected {
		fmt.Fprintf(out.stderr, "line %d rejected: %s\n", r.line, r.reason)
	}
	if res.Rejected != len(audit.rejected) {
		fmt.Fprintf(out.stderr, "%d lines rejected in all (%d listed above)\n", res.Rejected, len(audit.rejected))
	}
	fmt.Fprintf(out.stdout, "imported %d, duplicates %d, rejected %d, backorders fulfilled %d\n",
		res.Imported, res.Duplicates, res.Rejected, res.Fulfilled)
	if res.Imported == 0 {
		return &failure{code: 1, err: fmt.Errorf("no key imported into product %d", product)}
	}
	return nil
}

// rejectedLine is a line of a keys file the import refuses: its number
// and why, never its content (it may be a real key).
type rejectedLine struct {
	line   int
	reason string
}

// lineAudit passes a keys file through to the engine's import unchanged
// and notes, line by line, which lines a key cannot be made of and why.
// The engine decides; the audit explains (cmdKeys compares the counts).
// It is read by one goroutine at a time, the import's reader.
type lineAudit struct {
	r        io.Reader
	line     int
	partial  []byte
	long     bool
	rejected []rejectedLine
}

// maxAuditedLine bounds the bytes kept of one line: anything longer is
// rejected as too long without holding it.
const maxAuditedLine = faka.MaxKeyLength + 2

func (a *lineAudit) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	buf := p[:n]
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			a.keep(buf)
			break
		}
		a.keep(buf[:i])
		a.endLine()
		buf = buf[i+1:]
	}
	return n, err
}

func (a *lineAudit) keep(b []byte) {
	if a.long {
		return
	}
	if len(a.partial)+len(b) > maxAuditedLine {
		a.long, a.partial = true, a.partial[:0]
		return
	}
	a.partial = append(a.partial, b...)
}

func (a *lineAudit) endLine() {
	a.line++
	if reason := lineProblem(a.partial, a.long); reason != "" {
		a.rejected = append(a.rejected, rejectedLine{line: a.line, reason: reason})
	}
	a.partial, a.long = a.partial[:0], false
}

// finish accounts for a last line without a newline.
func (a *lineAudit) finish() {
	if len(a.partial) > 0 || a.long {
		a.endLine()
	}
}

// lineProblem says why a line cannot be a card key, or "" when it can (or
// is blank, which the import skips).
func lineProblem(line []byte, long bool) string {
	k := bytes.TrimSpace(line)
	switch {
	case long || len(k) > faka.MaxKeyLength:
		return fmt.Sprintf("longer than %d bytes", faka.MaxKeyLength)
	case !utf8.Valid(k):
		return "not valid UTF-8"
	}
	for _, r := range string(k) {
		if unicode.IsControl(r) && r != '\t' {
			return "holds a control character"
		}
	}
	return ""
}
