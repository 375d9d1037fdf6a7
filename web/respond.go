package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/faka-dev/faka"
)

// Body limits.
const (
	maxJSONBytes   = 64 << 10
	maxKeysBytes   = 32 << 20
	maxNotifyBytes = 64 << 10
)

// statusByCode is the one table from error codes to HTTP statuses.
var statusByCode = map[string]int{
	faka.EInvalid:      http.StatusUnprocessableEntity,
	faka.EBadRequest:   http.StatusBadRequest,
	faka.ENotFound:     http.StatusNotFound,
	faka.EConflict:     http.StatusConflict,
	faka.ESoldOut:      http.StatusConflict,
	faka.EInvalidState: http.StatusConflict,
	faka.EUnauthorized: http.StatusUnauthorized,
	faka.EForbidden:    http.StatusForbidden,
	faka.ERateLimited:  http.StatusTooManyRequests,
	faka.ETooLarge:     http.StatusRequestEntityTooLarge,
	faka.EUnavailable:  http.StatusServiceUnavailable,
	faka.EInternal:     http.StatusInternalServerError,
}

// errorStatus returns the HTTP status for err.
func errorStatus(err error) int {
	if st, ok := statusByCode[faka.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError writes err as {"error": {code, message}}. Only internal errors
// are logged, and never with the query string, which may hold a token.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := faka.ErrorCode(err)
	if _, ok := statusByCode[code]; !ok {
		code = faka.EInternal
	}
	if code == faka.EInternal && !errors.Is(err, context.Canceled) {
		s.log.Error("web: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, errorStatus(err), errorBody{errorDetail{code, faka.ErrorMessage(err)}})
}

// writeJSON writes v as the JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // a failed write means the client went away
}

// decodeJSON reads one JSON object of at most maxJSONBytes into v,
// refusing unknown fields and trailing data, and returns an error that
// says what is wrong in terms of the request.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	// The Content-Type is not checked: the body must parse as JSON, and
	// plain `curl -d` (form-urlencoded) should work for people trying the
	// API. Only a multipart upload is refused, with a pointer to JSON.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); strings.HasPrefix(mt, "multipart/") {
		return faka.Errorf(faka.EBadRequest, "the body must be JSON, sent with Content-Type: application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return jsonError(err)
		}
		return faka.Errorf(faka.EBadRequest, "the body must hold one JSON object and nothing after it")
	}
	return nil
}

// jsonError turns a decoding error into a helpful faka.Error.
func jsonError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		sizeErr   *http.MaxBytesError
	)
	switch {
	case errors.As(err, &sizeErr):
		return faka.Errorf(faka.ETooLarge, "the body is larger than %d bytes", sizeErr.Limit)
	case errors.Is(err, io.EOF):
		return faka.Errorf(faka.EBadRequest, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return faka.Errorf(faka.EBadRequest, "malformed JSON: the body ends too early")
	case errors.As(err, &syntaxErr):
		return faka.Errorf(faka.EBadRequest, "malformed JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return faka.Errorf(faka.EBadRequest, "the body must be a JSON object")
		}
		if isInt(typeErr.Type) && strings.HasPrefix(typeErr.Value, "number") {
			// A number that does not fit: well-formed, but not acceptable.
			return faka.Errorf(faka.EInvalid, "%s must be a whole number in range", field)
		}
		return faka.Errorf(faka.EBadRequest, "%s must be %s, not %s", field, typeName(typeErr.Type), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return faka.Errorf(faka.EBadRequest, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return faka.Errorf(faka.EBadRequest, "malformed JSON: %s", err.Error())
}

func isInt(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case isInt(t):
		return "a whole number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	}
	return fmt.Sprintf("a JSON %s", t.Kind())
}

// routeErrorWriter turns the mux's plain-text 404 and 405 into JSON errors.
type routeErrorWriter struct {
	http.ResponseWriter
	swallow bool
}

func (w *routeErrorWriter) WriteHeader(status int) {
	var err error
	switch status {
	case http.StatusNotFound:
		err = faka.Errorf(faka.ENotFound, "no such endpoint")
	case http.StatusMethodNotAllowed:
		err = faka.Errorf(faka.EBadRequest, "method not allowed; allowed: %s", w.Header().Get("Allow"))
	default:
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.swallow = true
	w.Header().Del("Content-Length")
	body := errorBody{errorDetail{faka.ErrorCode(err), faka.ErrorMessage(err)}}
	if status == http.StatusMethodNotAllowed {
		body.Error.Code = "method_not_allowed"
	}
	writeJSON(w.ResponseWriter, status, body)
}

func (w *routeErrorWriter) Write(p []byte) (int, error) {
	if w.swallow {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}
