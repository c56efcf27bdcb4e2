// Package api is roster's JSON HTTP server over the core, as docs/api.md
// specifies: every route acts as the principal of the request's bearer
// token (or, for the few routes that need none, as nobody), the core
// enforces every rule, and errors cross the wire through package wire's
// one table of statuses and codes.
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/token"
	"github.com/roster-dev/roster/internal/wire"
)

// Backend is what the server needs of the core; *core.Core satisfies it.
type Backend interface {
	Authenticate(ctx context.Context, bearer string) (roster.Service, error)
	SignIn(ctx context.Context, email, password, name string) (roster.APIToken, error)
	Public() core.Public
	Ready(ctx context.Context) error
}

var _ Backend = (*core.Core)(nil)

// Options tune the server; the zero value is a sensible default.
type Options struct {
	// Logger receives one line per request (method, path without the
	// query, status, duration, remote address) and the details of
	// internal errors. Bodies, tokens and passwords are never logged.
	// nil discards.
	Logger *slog.Logger
	// MaxBody caps a request body; 0 means 1 MiB. Larger bodies get 413.
	MaxBody int64
	// FailureRate is how many failed sign-ins and token uses per second a
	// client address may make (a token bucket with a burst of 10); 0
	// means 1 per second. Beyond it requests get 429 before the backend
	// is asked anything.
	FailureRate float64
	// Now is the limiter's clock; nil means time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	defaultMaxBody     = 1 << 20
	defaultFailureRate = 1
	failureBurst       = 10
)

// server is the handler New returns.
type server struct {
	b       Backend
	log     *slog.Logger
	maxBody int64
	limit   *limiter
	mux     *http.ServeMux
}

// New returns the API's handler over b.
func New(b Backend, o Options) http.Handler {
	s := &server{b: b, log: o.Logger, maxBody: o.MaxBody, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = defaultMaxBody
	}
	rate := o.FailureRate
	if rate <= 0 {
		rate = defaultFailureRate
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	s.limit = newLimiter(rate, failureBurst, now)
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.endpoint(rt))
	}
	return http.HandlerFunc(s.serveHTTP)
}

// serveHTTP logs, recovers, caps the body and dispatches one request.
func (s *server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		// The path only: query values might be secrets one day, and the
		// body and headers certainly may be.
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", safePath(r)),
			slog.Int("status", sw.statusOr200()), slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr))
	}()
	defer s.recoverPanic(sw, r)

	r.Body = http.MaxBytesReader(sw, r.Body, s.maxBody)
	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.unrouted(sw, r, h)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// recoverPanic turns a handler's panic into a 500, so that one bad request
// does not take the server down.
func (s *server) recoverPanic(w *statusWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler { // net/http's own way to abort; let it
		panic(v)
	}
	s.log.Error("panic serving request", "method", r.Method, "path", safePath(r),
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	if w.status == 0 {
		writeError(w, http.StatusInternalServerError, wire.Detail(errors.New("panic")))
	}
}

// unrouted answers a request that matched no route in JSON: the mux knows
// whether the path exists under another method (405) or not at all (404),
// so its own answer h is asked for and only its status kept.
func (s *server) unrouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &statusWriter{ResponseWriter: discard{w.Header()}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed { // the mux set Allow
		writeError(w, http.StatusMethodNotAllowed, wire.ErrorDetail{Code: wire.CodeInvalid,
			Message: fmt.Sprintf("method %s is not allowed on %s", r.Method, safePath(r)),
			Hint:    "allowed: " + w.Header().Get("Allow")})
		return
	}
	writeError(w, http.StatusNotFound, wire.ErrorDetail{Code: wire.CodeNotFound,
		Message: "no such endpoint: " + r.Method + " " + safePath(r), Hint: "see docs/api.md"})
}

// safePath is the request's path as logged and quoted in errors: without
// the query, and with any segment holding a roster secret (a token pasted
// where an id belongs) masked.
func safePath(r *http.Request) string {
	p := r.URL.Path
	if !strings.Contains(p, "roster_") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		for _, k := range []token.Kind{token.API, token.Invitation, token.Reset} {
			if strings.Contains(seg, string(k)) {
				segs[i] = string(k) + "…"
			}
		}
	}
	return strings.Join(segs, "/")
}

// access says what a route needs of its caller.
type access int

const (
	// open routes need nothing: health checks.
	open access = iota
	// bearer routes act as the user of the request's bearer token.
	bearer
	// credential routes need no token because the body carries a
	// credential (a password or a link's token); their failures are rate
	// limited like a bad bearer token's.
	credential
)

// route is one endpoint: its ServeMux pattern, what it needs of the
// caller, and its work.
type route struct {
	pattern string
	access  access
	serve   serveFunc
}

// serveFunc does one endpoint's work: it writes a result, or returns the
// error to answer with.
type serveFunc func(w http.ResponseWriter, c call) error

// call is one request as a route sees it: the request and the Service
// acting for its caller (nil on routes that need no token).
type call struct {
	r   *http.Request
	svc roster.Service
}

func (c call) ctx() context.Context              { return c.r.Context() }
func (c call) path(name string) string           { return c.r.PathValue(name) }
func (c call) query(name string) string          { return c.r.URL.Query().Get(name) }
func (c call) queryParser() *queryParser         { return &queryParser{q: c.r.URL.Query()} }
func (c call) pathID(name string) (int64, error) { return parseID(name, c.path(name)) }

// endpoint wraps a route with authentication and the failure limiter, and
// answers its error.
func (s *server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.guard(rt, w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// guard runs a route as its access asks.
//
// For bearer routes the limiter is only consulted before authenticating
// and charged after a failure: charging every request up front would cap
// a legitimate client's concurrency at the burst. A token is a 256-bit
// secret checked by one SHA-256, so the few extra guesses concurrency lets
// through before the charge lands are harmless.
//
// Credential routes may each cost a password hash (argon2id), so a
// request is charged up front and refunded unless it failed: concurrent
// guesses cannot outrun the limit.
func (s *server) guard(rt route, w http.ResponseWriter, r *http.Request) error {
	c := call{r: r}
	ip := clientIP(r)
	switch rt.access {
	case bearer:
		if !s.limit.allow(ip) {
			return errRateLimited
		}
		svc, err := s.b.Authenticate(r.Context(), bearerToken(r))
		if err != nil {
			if errors.Is(err, roster.ErrUnauthenticated) {
				s.limit.spend(ip)
			}
			return err
		}
		c.svc = svc
		err = rt.serve(w, c)
		// A wrong current password (account/password) is a failed sign-in.
		if errors.Is(err, roster.ErrUnauthenticated) {
			s.limit.spend(ip)
		}
		return err
	case credential:
		if !s.limit.spend(ip) {
			return errRateLimited
		}
		err := rt.serve(w, c)
		// A wrong password, or a link token that is unknown: a guess.
		if !errors.Is(err, roster.ErrUnauthenticated) && !errors.Is(err, roster.ErrNotFound) {
			s.limit.refund(ip)
		}
		return err
	}
	return rt.serve(w, c)
}

// bearerToken is the token of an "Authorization: Bearer" header, or "" so
// that a missing or malformed header fails in the core exactly as a bad
// token does, with the same message.
func bearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// clientIP is the limiter's key: the peer's address. Forwarding headers
// are not trusted, since any client can set them. An IPv6 address counts
// as its /64, which one client commonly holds whole: otherwise it could
// take a fresh bucket for every guess.
func clientIP(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// statusWriter remembers the status written, for the log and for knowing
// whether a panic can still be answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) statusOr200() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discard is a ResponseWriter that keeps headers and drops the rest.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (d discard) WriteHeader(int)             {}
