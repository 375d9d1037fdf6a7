// Package password hashes and verifies the console's passwords with
// argon2id (RFC 9106), stored as PHC strings:
//
//	$argon2id$v=19$m=47104,t=1,p=1$<salt>$<hash>
//
// The parameters travel with each hash, so they can be raised later
// without breaking stored passwords.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultParams follows OWASP's recommendation for argon2id: 46 MiB, one
// pass, one thread.
func DefaultParams() Params { return Params{Memory: 46 * 1024, Time: 1, Threads: 1} }

// Length limits of a password, in bytes and characters.
const (
	MinLength = 10  // characters
	MaxLength = 256 // bytes: hashing cost stays bounded
)

const (
	saltLen = 16
	keyLen  = 32
)

// ErrMismatch is returned by Verify for a wrong password.
var ErrMismatch = errors.New("password: mismatch")

// Check reports why pw is not acceptable as a new password, or nil.
func Check(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return errors.New("the password must be valid UTF-8 text")
	case utf8.RuneCountInString(pw) < MinLength:
		return fmt.Errorf("the password must have at least %d characters", MinLength)
	case len(pw) > MaxLength:
		return fmt.Errorf("the password must have at most %d bytes", MaxLength)
	}
	return nil
}

// Hash returns the PHC string of pw under fresh salt. It is not bounded:
// a server hashes through a Hasher.
func Hash(pw string, p Params) (string, error) { return hash(pw, p, argon2.IDKey) }

// idKeyFunc is the signature of argon2.IDKey.
type idKeyFunc = func(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

func hash(pw string, p Params, idKey idKeyFunc) (string, error) {
	if len(pw) > MaxLength {
		return "", fmt.Errorf("password: longer than %d bytes", MaxLength)
	}
	if p.Memory < 8*uint32(max(p.Threads, 1)) || p.Time < 1 || p.Threads < 1 {
		return "", errors.New("password: invalid argon2id parameters")
	}
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails
	key := idKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pw matches the PHC string hash: nil when it
// does, ErrMismatch when it does not, another error when hash is
// malformed. It is not bounded: a server verifies through a Hasher.
func Verify(pw, hash string) error {
	p, salt, key, err := parse(hash)
	if err != nil {
		return err
	}
	return verify(pw, p, salt, key, argon2.IDKey)
}

func verify(pw string, p Params, salt, key []byte, idKey idKeyFunc) error {
	if len(pw) > MaxLength {
		return ErrMismatch
	}
	got := idKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

// Limits on stored parameters, so that a tampered hash cannot make a login
// attempt allocate gigabytes.
const (
	maxMemory = 1 << 20 // KiB: 1 GiB
	maxTime   = 16
)

func parse(hash string) (Params, []byte, []byte, error) {
	bad := errors.New("password: malformed argon2id hash")
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, bad
	}
	var p Params
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return Params{}, nil, nil, bad
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return Params{}, nil, nil, bad
			}
			p.Threads = uint8(n)
		default:
			return Params{}, nil, nil, bad
		}
	}
	if p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory {
		return Params{}, nil, nil, bad
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, bad
	}
	return p, salt, key, nil
}
