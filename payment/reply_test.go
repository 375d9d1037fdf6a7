package payment

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/faka-dev/faka"
)

func TestReplyHelpers(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"ORDER-1": true, "": false, "a b": false, "ü": false, "toolongvalue": false} {
		if got := Printable(s, 10); got != want {
			t.Errorf("Printable(%q) = %v", s, got)
		}
	}
	for err, want := range map[error]int{
		faka.Errorf(faka.EUnauthorized, "bad signature"): http.StatusBadRequest,
		faka.Errorf(faka.EInvalid, "bad amount"):         http.StatusBadRequest,
		faka.Errorf(faka.EUnavailable, "db down"):        http.StatusServiceUnavailable,
		errors.New("bug"): http.StatusInternalServerError,
	} {
		if got := RejectStatus(err); got != want {
			t.Errorf("RejectStatus(%v) = %d, want %d", err, got, want)
		}
	}
	w := httptest.NewRecorder()
	ReplyText(w, http.StatusOK, "success")
	if w.Code != 200 || w.Body.String() != "success" || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("reply: %d %q %q", w.Code, w.Body.String(), w.Header().Get("Content-Type"))
	}
}
