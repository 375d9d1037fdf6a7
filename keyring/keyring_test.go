package keyring

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/faka-dev/faka"
)

func TestLoadOrCreateMakesPrivateFileAndReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	k1, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %#o, want 0600", info.Mode().Perm())
	}
	k2, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	sk := k1.SealCard(7, "CARD-123")
	got, err := k2.OpenKey(7, false, sk)
	if err != nil || got != "CARD-123" {
		t.Fatalf("reloaded keyring opened %q, %v", got, err)
	}
}

func TestLoadRefusesReadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if _, err := LoadOrCreate(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(path); err == nil {
		t.Fatal("a world-readable master key was accepted")
	}
}

func TestSealBindsRow(t *testing.T) {
	k, err := New(bytes.Repeat([]byte{1}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	sk := k.SealCard(1, "SECRET")
	if bytes.Contains(sk.Ciphertext, []byte("SECRET")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if _, err := k.OpenKey(2, false, sk); err == nil {
		t.Fatal("a ciphertext opened under another product")
	}
	other := k.SealCard(1, "OTHER")
	if _, err := k.OpenKey(1, false, faka.SealedKey{Hash: other.Hash, Ciphertext: sk.Ciphertext}); err == nil {
		t.Fatal("a ciphertext opened under another key's fingerprint")
	}
	if !bytes.Equal(k.Fingerprint("SECRET"), sk.Hash) {
		t.Fatal("fingerprint is not deterministic")
	}
	k2, _ := New(bytes.Repeat([]byte{2}, MasterKeySize))
	if bytes.Equal(k2.Fingerprint("SECRET"), sk.Hash) {
		t.Fatal("fingerprint does not depend on the master key")
	}
	if _, err := k2.OpenKey(1, false, sk); err == nil {
		t.Fatal("opened with another master key")
	}
	r := k.SealReusable("R")
	if got, err := k.OpenKey(99, true, r); err != nil || got != "R" {
		t.Fatalf("reusable: %q %v", got, err)
	}
}

// The check value tells keys apart without revealing them, and is stable
// for one key.
func TestCheckValue(t *testing.T) {
	t.Parallel()
	a1, _ := New(bytes.Repeat([]byte{1}, MasterKeySize))
	a2, _ := New(bytes.Repeat([]byte{1}, MasterKeySize))
	b, _ := New(bytes.Repeat([]byte{2}, MasterKeySize))
	if !a1.SameKey(a2.Check()) || a1.KeyFingerprint() != a2.KeyFingerprint() {
		t.Fatal("one key, two check values")
	}
	if a1.SameKey(b.Check()) || a1.KeyFingerprint() == b.KeyFingerprint() {
		t.Fatal("two keys, one check value")
	}
	if bytes.Contains(a1.Check(), bytes.Repeat([]byte{1}, 8)) || len(a1.KeyFingerprint()) != 16 {
		t.Fatalf("check %x, fingerprint %q", a1.Check(), a1.KeyFingerprint())
	}
}
