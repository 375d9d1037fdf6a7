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

// cmdAdmin manages the console's accounts. The password comes from
// FAKA_ADMIN_PASSWORD or standard input, never from a flag, which would
// show in ps.
func cmdAdmin(ctx context.Context, out cli, args []string, getenv func(string) string, stdin io.Reader) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "password") {
		return subcommandHelp(out, args, joinHelp("admin create", "admin password"))
	}
	var email string
	c, rest, err := parseCmd(out, "admin "+args[0], args[1:], getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the account's email address")
	})
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return usageError("admin %s takes no arguments, got %q (faka admin %[1]s -h)", args[0], rest[0])
	}
	email, err = faka.NormalizeEmail(email)
	if err != nil {
		return &failure{code: 2, err: fmt.Errorf("--email: %w", err)}
	}
	if err := requireShop(ctx, c); err != nil {
		return err
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
		fmt.Fprintf(out.stdout, "created console account %d for %s; sign in at /admin\n", a.ID, a.Email)
		return nil
	}
	a, err := accounts.AdminByEmail(ctx, email)
	if faka.ErrorCode(err) == faka.ENotFound {
		return fmt.Errorf("no console account for %s (faka admin create --email %[1]s makes one)", email)
	}
	if err != nil {
		return fmt.Errorf("find the account of %s: %w", email, err)
	}
	if err := accounts.AdminSetPassword(ctx, a.ID, hash); err != nil {
		return err
	}
	fmt.Fprintf(out.stdout, "password of %s changed; its sessions are ended\n", a.Email)
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
