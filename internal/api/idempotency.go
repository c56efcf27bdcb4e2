package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/wire"
)

// Idempotency keys (docs/api.md, "Idempotency-Key"). A write request
// (POST, PUT, PATCH, DELETE) may carry a key; the core then commits its
// answer with its writes (core.Core.Idempotent), and the same request
// sent again with the key is answered with it, marked Idempotent-Replayed,
// instead of being done again. A key sent again with another request is
// refused with 422. Requests without a key, and reads, are served as
// always.
const (
	idempotencyHeader = "Idempotency-Key"
	replayedHeader    = "Idempotent-Replayed"
	// Keys are 16 to 255 visible ASCII characters: random (a UUID, say),
	// since the answer is stored encrypted under the key.
	minKeyLen, maxKeyLen = 16, 255
)

// idempotencyKey is the request's key when it is a write that has one.
func idempotencyKey(r *http.Request) (string, bool) {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return "", false
	}
	v := r.Header.Values(idempotencyHeader)
	if len(v) == 0 {
		return "", false
	}
	if len(v) > 1 {
		return "\x00", true // invalid: refused by checkKey
	}
	return v[0], true
}

// checkKey refuses a key that is not one.
func checkKey(key string) error {
	bad := len(key) < minKeyLen || len(key) > maxKeyLen
	for i := 0; i < len(key) && !bad; i++ {
		bad = key[i] < 0x21 || key[i] > 0x7e
	}
	if bad {
		return roster.Errorf(roster.ErrInvalid, "invalid %s header: give one key of %d to %d visible ASCII characters", idempotencyHeader, minKeyLen, maxKeyLen).
			WithHint("use a random key, such as a UUID, new for each request and the same when it is sent again")
	}
	return nil
}

// idempotent wraps a route's work for a request sent with key: run, and
// answered, through the core's Idempotent.
func (s *server) idempotent(rt route, key string) serveFunc {
	return func(w http.ResponseWriter, c call) error {
		if err := checkKey(key); err != nil {
			return err
		}
		// The body is read whole: it is part of what the key stands for,
		// and the work reads it from memory.
		body, err := wholeBody(c.r)
		if err != nil {
			return bodyError(err)
		}
		var rec *recorder
		a, replayed, err := s.b.Idempotent(c.ctx(), c.svc, key, fingerprint(c.r, body), func(ctx context.Context) core.Answer {
			r := c.r.WithContext(ctx)
			r.Body = &memBody{Reader: bytes.NewReader(body), data: body} // each run from the start
			rec = &recorder{header: http.Header{}}
			if err := rt.serve(rec, call{r: r, svc: c.svc}); err != nil {
				if rt.access == link {
					err = s.tokenFailure(r, err)
				}
				s.fail(rec, r, err)
			}
			return core.Answer{Status: rec.statusOr200(), Body: rec.body.Bytes()}
		})
		switch {
		case errors.Is(err, core.ErrKeyReused):
			return &httpError{status: http.StatusUnprocessableEntity, detail: wire.Detail(err)}
		case err != nil:
			return err
		}
		h := w.Header()
		if replayed {
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set(replayedHeader, "true")
		} else {
			for k, v := range rec.header {
				h[k] = v
			}
		}
		h.Set("Content-Length", strconv.Itoa(len(a.Body)))
		w.WriteHeader(a.Status)
		_, _ = w.Write(a.Body) // a failed write means the client left
		return nil
	}
}

// fingerprint is the SHA-256 of what a key stands for: the method, the
// path and query, and the body.
func fingerprint(r *http.Request, body []byte) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", r.Method, r.URL.EscapedPath(), r.URL.RawQuery)
	h.Write(body)
	return h.Sum(nil)
}

// recorder keeps an answer until the core knows whether it commits.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) statusOr200() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Requests the server cuts short. Every request but a streamed export has
// to be answered within Options.RequestTimeout, which roster serve sets
// below its WriteTimeout: work not done by then is cancelled, its
// transaction rolled back, and the answer is 503, rather than an answer
// the connection no longer carries for a change that committed anyway.
// An import or apply sent progress keeps its connection's write deadline
// ahead of it, so it is bounded by Options.LongTimeout instead.
// Shutting down cancels requests the same way (roster serve's base
// context): each says why in its context's cause.

// streaming are the routes whose answer is streamed for as long as it
// takes, so they have no deadline.
var streaming = map[string]bool{"GET " + wire.Prefix + "/export": true, "GET " + wire.OrgsPrefix + "/export": true,
	"GET " + wire.Prefix + "/audit/stream": true, "GET " + wire.OrgsPrefix + "/audit/stream": true}

// withDeadline bounds r by the server's request timeout, or by its long
// one when r is long: sent progress (see progress.go).
func (s *server) withDeadline(pattern string, long bool, r *http.Request) (*http.Request, context.CancelFunc) {
	limit := s.requestTimeout
	switch {
	case streaming[pattern]:
		limit = 0
	case long:
		limit = s.longTimeout
	}
	if limit <= 0 {
		return r, func() {}
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), limit, tooLong(limit))
	return r.WithContext(ctx), cancel
}

func tooLong(d time.Duration) error {
	return roster.Errorf(roster.ErrUnavailable, "the request did not finish within the server's limit of %s and was cancelled", d).
		WithHint("try again (with the same Idempotency-Key, if it had one); run a very large import or apply on the server's host")
}

// interrupted is the error to answer for err when the server cut the
// request short: the cause its context carries (a deadline passed, the
// server is shutting down), a 503, instead of a context error's 500. A
// COMMIT whose answer was lost is not said to be cancelled: it may have
// been made, and its own error says so.
func interrupted(r *http.Request, err error) error {
	if r.Context().Err() == nil {
		return err
	}
	if unknown := (*store.CommitUnknown)(nil); errors.As(err, &unknown) {
		return err
	}
	if status, _ := errorResponse(err); status < http.StatusInternalServerError {
		return err
	}
	var re *roster.Error
	if cause := context.Cause(r.Context()); errors.As(cause, &re) {
		return cause
	}
	return err
}
