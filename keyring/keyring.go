// Package keyring encrypts card keys at rest and fingerprints them for
// duplicate detection, under one master key kept in a 0600 file.
//
// Two subkeys are derived from the master key with HKDF-SHA256: one for
// AES-256-GCM encryption and one for the HMAC-SHA256 fingerprint, so the
// fingerprint reveals nothing about the encryption key and duplicates are
// found without decrypting anything.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faka-dev/faka"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// Keyring seals and opens secrets. It is safe for concurrent use.
type Keyring struct {
	aead   cipher.AEAD
	macKey []byte
	check  []byte // see Check
}

// New returns a Keyring for a 32-byte master key.
func New(master []byte) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("keyring: master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	encKey, err := hkdf.Key(sha256.New, master, nil, "faka card key encryption v1", 32)
	if err != nil {
		return nil, fmt.Errorf("keyring: derive encryption key: %w", err)
	}
	macKey, err := hkdf.Key(sha256.New, master, nil, "faka card key fingerprint v1", 32)
	if err != nil {
		return nil, fmt.Errorf("keyring: derive fingerprint key: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return &Keyring{aead: aead, macKey: macKey, check: checkValue(master)}, nil
}

// LoadOrCreate reads the master key from path (64 hex characters). When the
// file does not exist it creates one with a fresh random key and mode 0600.
// A file readable by group or others is refused: it holds every card key.
func LoadOrCreate(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		master := make([]byte, MasterKeySize)
		if _, err := rand.Read(master); err != nil {
			return nil, fmt.Errorf("keyring: generate master key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("keyring: create directory for %s: %w", path, err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keyring: create master key file: %w", err)
		}
		_, werr := f.WriteString(hex.EncodeToString(master) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("keyring: write master key file: %w", werr)
		}
		return New(master)
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: read master key: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring: master key file %s has mode %#o; it must be readable by its owner only (chmod 600)", path, info.Mode().Perm())
	}
	master, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("keyring: master key file %s must hold 64 hex characters: %w", path, err)
	}
	return New(master)
}

// Fingerprint returns the keyed hash of a secret, for duplicate detection.
func (k *Keyring) Fingerprint(secret string) []byte {
	m := hmac.New(sha256.New, k.macKey)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Seal encrypts plaintext bound to aad: the ciphertext opens only with the
// same aad. The nonce is random and prepended.
func (k *Keyring) Seal(aad, plaintext []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("keyring: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return k.aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts what Seal made with the same aad.
func (k *Keyring) Open(aad, sealed []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(sealed) < ns+k.aead.Overhead() {
		return nil, errors.New("keyring: ciphertext too short")
	}
	pt, err := k.aead.Open(nil, sealed[:ns], sealed[ns:], aad)
	if err != nil {
		return nil, fmt.Errorf("keyring: open: %w", err)
	}
	return pt, nil
}

// cardAAD binds a card key's ciphertext to its product and fingerprint,
// which together identify its row (they are unique per product): a
// ciphertext copied into another row fails to open.
func cardAAD(productID int64, hash []byte) []byte {
	return []byte("faka/card/" + strconv.FormatInt(productID, 10) + "/" + hex.EncodeToString(hash))
}

func reusableAAD(hash []byte) []byte {
	return []byte("faka/reusable/" + hex.EncodeToString(hash))
}

// SealCard seals a card key of a product.
func (k *Keyring) SealCard(productID int64, secret string) faka.SealedKey {
	h := k.Fingerprint(secret)
	return faka.SealedKey{Hash: h, Ciphertext: k.Seal(cardAAD(productID, h), []byte(secret))}
}

// SealReusable seals the one key of a reusable product.
func (k *Keyring) SealReusable(secret string) faka.SealedKey {
	h := k.Fingerprint(secret)
	return faka.SealedKey{Hash: h, Ciphertext: k.Seal(reusableAAD(h), []byte(secret))}
}

// OpenKey opens a sealed card or reusable key of a product.
func (k *Keyring) OpenKey(productID int64, reusable bool, sk faka.SealedKey) (string, error) {
	aad := cardAAD(productID, sk.Hash)
	if reusable {
		aad = reusableAAD(sk.Hash)
	}
	pt, err := k.Open(aad, sk.Ciphertext)
	if err != nil {
		return "", err
	}
	return string(pt), nil
}
