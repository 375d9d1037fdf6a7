// Command faka runs the faka store and its maintenance tasks; `faka help`
// lists the commands and `faka COMMAND -h` a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/faka-dev/faka"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `faka: an instant-delivery store for digital goods.

Usage:
  faka serve [--demo] [flags]             run the store (--demo loads sample data into an empty store)
  faka migrate [--create]                 upgrade the database, then exit (--create: make a new, empty shop)
  faka migrate --from sqlite:PATH --to postgres://…   move a shop to PostgreSQL
  faka keys import --product ID FILE      import card keys, one per line ("-" reads standard input)
  faka reconcile [-gateways [-since 48h]] check every invariant; exit status 1 on any violation
  faka admin create --email EMAIL         create a console account (/admin)
  faka admin password --email EMAIL       set an account's password and end its sessions
                                          (the password comes from FAKA_ADMIN_PASSWORD or standard input)
  faka backup FILE                        write a verified copy of the embedded database while the shop sells
  faka restore FILE                       put a backup into an empty data directory
  faka healthcheck [-url URL]             exit 0 when the running server is ready (a container's HEALTHCHECK)
  faka bench [-quick] [flags]             flash-sale benchmark with the textbook baselines (last stdout line: JSON)
  faka version                            print the version, commit and build date (also --version)

Run "faka COMMAND -h" for a command's flags. Settings also come from FAKA_*
environment variables (flags win); see README.md. Exit status: 0 done, 1 failed
(or a violation found), 2 wrong usage or no shop where one was expected.
`

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	out := cli{stdout: stdout, stderr: stderr}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = cmdServe(ctx, out, rest, getenv, log)
	case "migrate":
		err = cmdMigrate(ctx, out, rest, getenv, log)
	case "keys":
		err = cmdKeys(ctx, out, rest, getenv, stdin, log)
	case "reconcile":
		err = cmdReconcile(ctx, out, rest, getenv, log)
	case "admin":
		err = cmdAdmin(ctx, out, rest, getenv, stdin)
	case "backup":
		err = cmdBackup(ctx, out, rest, getenv)
	case "restore":
		err = cmdRestore(ctx, out, rest, getenv)
	case "healthcheck":
		err = cmdHealthcheck(ctx, out, rest, getenv)
	case "bench":
		err = cmdBench(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, readVersion())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "faka: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ex exitError
	var fail *failure
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ex):
		return int(ex)
	case errors.As(err, &fail):
		fmt.Fprintf(stderr, "faka: %s\n", describe(fail.err))
		return fail.code
	default:
		fmt.Fprintf(stderr, "faka: %s\n", describe(err))
		return 1
	}
}

// cli is where a command writes: results to stdout, help and complaints
// to stderr (help asked for with -h goes to stdout).
type cli struct {
	stdout, stderr io.Writer
}

// exitError ends a command with a status and no further message.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// failure ends a command with a message and a status other than 1.
type failure struct {
	code int
	err  error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// usageError is a failure with status 2: the command was called wrongly,
// or there is no shop where it looked.
func usageError(format string, args ...any) error {
	return &failure{code: 2, err: fmt.Errorf(format, args...)}
}

// describe is err's text for a person: a domain error with a code other
// than internal says its message without the driver's cause underneath
// (no "sql: no rows in result set").
func describe(err error) string {
	s := err.Error()
	var fe *faka.Error
	if !errors.As(err, &fe) || fe.Code == faka.EInternal || fe.Message == "" {
		return s
	}
	if inner := fe.Error(); inner != fe.Message && strings.HasSuffix(s, inner) {
		return strings.TrimSuffix(s, inner) + fe.Message
	}
	return s
}
