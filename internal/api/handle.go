package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// withBody adapts an endpoint that takes a JSON body of type In: the body
// is decoded strictly before fn runs, so fn never sees a bad one. required
// names the fields that must be present and not null, because for them
// the zero value would be read as a request of its own: {} must not strip
// every role, unarchive a project or blank a setting.
func withBody[In, Out any](fn func(c call, in In) (Out, error), required ...string) serveFunc {
	return func(w http.ResponseWriter, c call) error {
		in, err := decode[In](c.r.Body, required...)
		if err != nil {
			return err
		}
		return noBody(func(c call) (Out, error) { return fn(c, in) })(w, c)
	}
}

// optionalBody is withBody for an endpoint whose body may be left out:
// no body at all is In's zero value.
func optionalBody[In, Out any](fn func(c call, in In) (Out, error)) serveFunc {
	return func(w http.ResponseWriter, c call) error {
		data, err := io.ReadAll(clientBody{c.r.Body})
		if err != nil {
			return bodyError(err)
		}
		var in In
		if len(bytes.TrimSpace(data)) > 0 {
			if in, err = decode[In](bytes.NewReader(data)); err != nil {
				return err
			}
		}
		return noBody(func(c call) (Out, error) { return fn(c, in) })(w, c)
	}
}

// noBody adapts an endpoint that takes no body (any body sent is ignored)
// and answers its result as JSON.
func noBody[Out any](fn func(c call) (Out, error)) serveFunc {
	return func(w http.ResponseWriter, c call) error {
		out, err := fn(c)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

// decode reads exactly one JSON object of type T: unknown fields, values
// of the wrong type, trailing data, an empty body and a required field
// missing or null are all invalid, and a body over the cap is too large.
// Messages name fields and types but never echo values, which may be
// passwords or tokens.
func decode[T any](body io.Reader, required ...string) (T, error) {
	var v T
	data, err := io.ReadAll(clientBody{body})
	if err != nil {
		return v, bodyError(err)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return v, roster.Errorf(roster.ErrInvalid, "a JSON body is required").WithHint("send a JSON object; see docs/api.md")
	case trimmed[0] != '{':
		// null would decode silently into the zero value.
		return v, roster.Errorf(roster.ErrInvalid, "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, roster.Errorf(roster.ErrInvalid, "invalid JSON body: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, roster.Errorf(roster.ErrInvalid, "invalid JSON body: unexpected data after the object")
	}
	for _, name := range required {
		if !present(data, name) {
			return v, roster.Errorf(roster.ErrInvalid, "the body needs the field %q", name).WithHint("see docs/api.md")
		}
	}
	return v, nil
}

// present reports whether the JSON object obj (already decoded once, so
// well formed) gives name a value other than null. Keys match as
// encoding/json matches them to fields: without regard to case, the last
// one in the object winning.
func present(obj []byte, name string) bool {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // {
		return false
	}
	var last json.RawMessage
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false
		}
		if k, _ := key.(string); strings.EqualFold(k, name) {
			last = raw
		}
	}
	return last != nil && string(last) != "null"
}

// describeJSONError says what is wrong with a body without quoting it.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		// Value is e.g. "number 12345678": keep the kind, drop the value.
		got, _, _ := strings.Cut(typ.Value, " ")
		if typ.Field == "" {
			return fmt.Sprintf("want %s, got %s", typeName(typ.Type), got)
		}
		return fmt.Sprintf("field %q must be %s, not %s", clip(typ.Field), typeName(typ.Type), got)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no type for this; the message is stable.
		return "unknown field " + clip(strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return "not valid JSON"
}

// typeName says in words what JSON a Go type wants.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return t.String()
}

// clip bounds a client-supplied string put in a message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// writeJSON answers v as JSON. It is encoded first, so that a failure to
// encode, the only error returned, is still a clean 500. A nil slice is written as [], as -o json does.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	buf := bufs.Get().(*bytes.Buffer)
	defer putBuf(buf)
	buf.Reset()
	if err := encode(buf, v); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Results can hold tokens and links shown once: keep them out of caches.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	// The status is sent: a failed write means the client left, and
	// there is no one left to answer.
	_, _ = w.Write(buf.Bytes())
	return nil
}

// encode writes v as json.Encoder does, users by hand (userjson.go).
func encode(buf *bytes.Buffer, v any) error {
	var b []byte
	var err error
	switch v := v.(type) {
	case roster.User:
		b, err = appendUser(buf.AvailableBuffer(), v)
	case wire.Page[roster.User]:
		b, err = appendUsers(buf.AvailableBuffer(), v)
	default:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
			buf.WriteString("[]\n")
			return nil
		}
		return json.NewEncoder(buf).Encode(v)
	}
	if err != nil {
		return err
	}
	buf.Write(b)
	return buf.WriteByte('\n')
}

// bufs are response buffers, reused so that encoding an answer does not
// allocate a new one each request.
var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled bounds the buffers kept: one huge answer must not pin its
// memory for good.
const maxPooled = 1 << 20

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooled {
		bufs.Put(b)
	}
}

// writeError answers an error body.
func writeError(w http.ResponseWriter, status int, d wire.ErrorDetail) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="roster"`)
	}
	// No message carries a roster secret, however it was made.
	d.Message, d.Hint = roster.Withhold(d.Message), roster.Withhold(d.Hint)
	_ = writeJSON(w, status, wire.ErrorBody{Error: d}) // an ErrorBody always encodes
}

// fail answers err with its status and code. An internal error's message
// may hold anything, so the client is told only that it happened and the
// log gets the details.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	err = interrupted(r, err)
	s.logInternal(r, err)
	if he := (*httpError)(nil); errors.As(err, &he) && he.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(he.retryAfter/time.Second), 10))
	}
	status, detail := errorResponse(err)
	writeError(w, status, detail)
}

// errorResponse is the status and body that answer err.
func errorResponse(err error) (int, wire.ErrorDetail) {
	if he := (*httpError)(nil); errors.As(err, &he) {
		return he.status, he.detail
	}
	status, _ := wire.Status(err)
	return status, wire.Detail(err)
}

// logInternal logs err if it is internal: wire.Detail hides its message
// from the client, so the log is the only place it shows.
func (s *server) logInternal(r *http.Request, err error, args ...any) {
	// A client that went away cancelled its own request: nothing is wrong
	// with the server, and nobody reads the answer.
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		return
	}
	if status, _ := errorResponse(err); status == http.StatusInternalServerError {
		s.log.Error("internal error", append([]any{"method", r.Method, "path", safePath(r), "err", err}, args...)...)
	}
}

// httpError is an error whose status is not a domain error's: a body too
// large, or too many failures.
type httpError struct {
	status     int
	detail     wire.ErrorDetail
	retryAfter time.Duration // for 429: when the client may try again
}

func (e *httpError) Error() string { return e.detail.Message }

// rateLimited answers a client past its failure budget, which will have
// room for one more attempt after wait. It says nothing of the attempt
// refused: not whether the token or account exists.
func rateLimited(wait time.Duration) *httpError {
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	return &httpError{status: http.StatusTooManyRequests, retryAfter: time.Duration(secs) * time.Second,
		detail: wire.ErrorDetail{Code: wire.CodeRateLimited, Message: "too many failed attempts from this address",
			Hint: fmt.Sprintf("wait %d seconds before trying again", secs)}}
}

// queryParser reads typed query parameters, keeping the first error so
// that a handler checks once, before it calls the Service.
type queryParser struct {
	q   url.Values
	err error
}

func (p *queryParser) str(name string) string { return p.q.Get(name) }

// int reads a whole number; absent is 0.
func (p *queryParser) int(name string) int {
	v := p.q.Get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil && p.err == nil {
		p.err = roster.Errorf(roster.ErrInvalid, "query parameter %s must be a whole number", name)
	}
	return n
}

// bool reads true or false; absent is false.
func (p *queryParser) bool(name string) bool {
	v := p.q.Get(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil && p.err == nil {
		p.err = roster.Errorf(roster.ErrInvalid, "query parameter %s must be true or false", name)
	}
	return b
}

// time reads an RFC 3339 time; absent is the zero time.
func (p *queryParser) time(name string) time.Time {
	v := p.q.Get(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil && p.err == nil {
		p.err = roster.Errorf(roster.ErrInvalid, "query parameter %s must be an RFC 3339 time", name).
			WithHint("for example 2026-01-02T15:04:05Z")
	}
	return t
}

// parseID reads a token id from the path. The value is not quoted back:
// a token pasted in place of its id would be.
func parseID(name, v string) (int64, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, roster.Errorf(roster.ErrInvalid, "%s must be a whole number", name).
			WithHint("roster token list shows the ids")
	}
	return id, nil
}

// seconds turns a body's ttl_seconds into a duration, refusing what would
// overflow; 0 stays 0, meaning the default.
func seconds(n int64) (time.Duration, error) {
	if n < 0 || n > math.MaxInt64/int64(time.Second) {
		return 0, roster.Errorf(roster.ErrInvalid, "ttl_seconds %d is out of range", n)
	}
	return time.Duration(n) * time.Second, nil
}

// memBody is a request body read whole (see wholeBody).
type memBody struct {
	*bytes.Reader
	data []byte
}

func (*memBody) Close() error { return nil }

// wholeBody reads r's body whole, once: r's body is then read from
// memory, and a second call returns the same bytes without a copy.
func wholeBody(r *http.Request) ([]byte, error) {
	if b, ok := r.Body.(*memBody); ok {
		return b.data, nil
	}
	data, err := io.ReadAll(clientBody{r.Body})
	if err != nil {
		return nil, err
	}
	r.Body = &memBody{Reader: bytes.NewReader(data), data: data}
	return data, nil
}

// importBody is what an import reads of r's body: the body itself when
// it was read whole already (to send progress, or for an idempotency key),
// so that the core, seeing it in memory, writes while it reads (core's
// Import); else the body as it comes.
func importBody(r *http.Request) io.Reader {
	if b, ok := r.Body.(*memBody); ok {
		return b.Reader
	}
	return clientBody{r.Body}
}

// clientBody reads a request body, marking its read errors as the
// client's: a body cut off, or badly framed (a malformed chunked
// encoding), is the client's fault, never the server's.
type clientBody struct{ r io.Reader }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = &badBody{err}
	}
	return n, err
}

// badBody is a failure to read a request body.
type badBody struct{ err error }

func (e *badBody) Error() string { return e.err.Error() }
func (e *badBody) Unwrap() error { return e.err }

// bodyError is the answer to a failure to read a request body: too
// large (413), or cut off or badly framed (400). Any other error passes
// through.
func bodyError(err error) error {
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return &httpError{status: http.StatusRequestEntityTooLarge, detail: wire.ErrorDetail{
			Code: wire.CodeTooLarge, Message: fmt.Sprintf("the request body is over %d bytes", mbe.Limit)}}
	}
	if bad := (*badBody)(nil); errors.As(err, &bad) {
		return roster.Errorf(roster.ErrInvalid, "could not read the request body: it was cut off or badly framed").
			WithHint("send a complete body, with a Content-Length or a well-formed chunked encoding")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return roster.Errorf(roster.ErrInvalid, "could not read the request body")
	}
	return err
}
