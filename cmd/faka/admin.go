package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/password"
)

const adminUsage = `usage: faka admin create --email EMAIL     create a console account
       faka admin password --email EMAIL   set an account's password (ends its sessions)

The password comes from FAKA_ADMIN_PASSWORD or, when that is unset, from
the first line of standard input; never from a flag, which would show in ps.`

// cmdAdmin manages the console's accounts.
func cmdAdmin(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "password") {
		return errors.New(adminUsage)
	}
	var email string
	c, fs, err := parse("admin "+args[0], args[1:], getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the account's email address")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New(adminUsage)
	}
	email, err = faka.NormalizeEmail(email)
	if err != nil {
		return fmt.Errorf("--email: %w", err)
	}
	pw, err := readPassword(getenv, stdin)
	if err != nil {
		return err
	}
	hash, err := password.Hash(pw, password.DefaultParams())
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	accounts, ok := st.(faka.AccountStore)
	if !ok {
		return fmt.Errorf("the %s store keeps no console accounts yet", c.databaseName())
	}
	if args[0] == "create" {
		a := &faka.Admin{Email: email, PasswordHash: hash}
		if err := accounts.AdminCreate(ctx, a); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created console account %d for %s; sign in at /admin\n", a.ID, a.Email)
		return nil
	}
	a, err := accounts.AdminByEmail(ctx, email)
	if err != nil {
		return fmt.Errorf("no account for %s: %w", email, err)
	}
	if err := accounts.AdminSetPassword(ctx, a.ID, hash); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password of %s changed; its sessions are ended\n", a.Email)
	return nil
}

// readPassword takes the new password from FAKA_ADMIN_PASSWORD or the
// first line of stdin, and checks it.
func readPassword(getenv func(string) string, stdin io.Reader) (string, error) {
	pw := getenv("FAKA_ADMIN_PASSWORD")
	if pw == "" {
		line, err := bufio.NewReader(io.LimitReader(stdin, password.MaxLength+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if pw == "" {
		return "", errors.New("no password: set FAKA_ADMIN_PASSWORD or write it on standard input")
	}
	if err := password.Check(pw); err != nil {
		return "", err
	}
	return pw, nil
}
