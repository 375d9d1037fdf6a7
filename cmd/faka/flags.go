package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandHelp is the synopsis and description each command's -h prints
// above its flags.
var commandHelp = map[string]string{
	"serve": `usage: faka serve [--demo] [flags]

Runs the store: the API, the storefront, the console and the payment
notifications. Creates the embedded database and the master key in the data
directory when they do not exist yet.`,
	"migrate": `usage: faka migrate [--create] [flags]
       faka migrate --from sqlite:PATH --to postgres://USER@HOST/DB

Brings the shop's database to the latest schema and exits. It refuses to
make a new shop unless --create is given: run in the wrong directory it says
where it looked instead of starting an empty one.`,
	"keys import": `usage: faka keys import --product ID FILE   (FILE "-" reads standard input)

Imports card keys, one per line. Each rejected line is reported by its
number and reason (never its content). Exit status 1 when no key was
imported.`,
	"reconcile": `usage: faka reconcile [-gateways [-since 48h]] [flags]

Checks every invariant of the shop's database; exit status 1 on any
violation, 2 when there is no shop where it looked.`,
	"admin create": `usage: faka admin create --email EMAIL

Creates a console account. The password comes from FAKA_ADMIN_PASSWORD or,
when that is unset, from the first line of standard input.`,
	"admin password": `usage: faka admin password --email EMAIL

Sets an account's password and ends its sessions. The password comes from
FAKA_ADMIN_PASSWORD or, when that is unset, from the first line of standard
input.`,
	"backup": `usage: faka backup FILE

Writes a consistent copy of the embedded SQLite database to FILE (which must
not exist) while faka serve keeps selling, then checks the copy: SQLite's
integrity check and every invariant. Keep the master key with it: without
that file the copied card keys cannot be read. For PostgreSQL use pg_dump
(docs/DEPLOY.md).`,
	"restore": `usage: faka restore FILE

Puts a backup made by faka backup into the data directory, which must hold
no database yet, after checking it. Copy the master key beside it
(FAKA_MASTER_KEY_FILE) before starting faka serve.`,
}

// parse registers the shared flags and parses args, discarding help and
// complaints: for tests and in-process servers.
func parse(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet)) (*Config, []string, error) {
	return parseCmd(cli{stdout: io.Discard, stderr: io.Discard}, name, args, getenv, extra)
}

// parseCmd registers the flags of command name (the server's only for
// serve) and extra's, and parses args; flags may come after the
// arguments. It returns the configuration and the arguments. -h prints the
// command's help to stdout and returns flag.ErrHelp; a bad flag prints the
// complaint and the help to stderr and ends with exit status 2.
func parseCmd(out cli, name string, args []string, getenv func(string) string, extra func(*flag.FlagSet)) (*Config, []string, error) {
	fs := flag.NewFlagSet("faka "+name, flag.ContinueOnError)
	c, finish := configFlags(fs, getenv, name == "serve")
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", commandHelp[name])
		fs.PrintDefaults()
	}
	if wantsHelp(args) {
		fs.SetOutput(out.stdout)
		fs.Usage()
		return nil, nil, flag.ErrHelp
	}
	fs.SetOutput(out.stderr)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, nil, exitError(2)
	}
	if err := finish(); err != nil {
		return nil, nil, &failure{code: 2, err: err}
	}
	return c, rest, nil
}

// wantsHelp reports whether args ask for help before a "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// parseInterspersed parses flags wherever they are among args (the flag
// package stops at the first argument) and returns the arguments in order.
// Everything after "--" is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// subcommandHelp answers `faka keys` and `faka admin` without or with a
// help flag: the group's usage, exit status 0 when asked for, 2 otherwise.
func subcommandHelp(out cli, args []string, text string) error {
	if len(args) > 0 && (args[0] == "help" || wantsHelp(args[:1])) {
		fmt.Fprintln(out.stdout, text)
		return flag.ErrHelp
	}
	fmt.Fprintln(out.stderr, text)
	return exitError(2)
}

// joinHelp lists the synopses of the named commands.
func joinHelp(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		first, _, _ := strings.Cut(commandHelp[n], "\n")
		if b.Len() > 0 {
			first = "      " + strings.TrimPrefix(first, "usage:")
		}
		b.WriteString(first + "\n")
	}
	return b.String() + "\nRun \"faka " + strings.Fields(names[0])[0] + " COMMAND -h\" for a command's flags."
}
