package core

import (
	"bytes"
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// Idempotency keys, as Stripe's API has them (docs/api.md,
// "Idempotency-Key"). A write request sent with a key is run so that its
// answer commits in the same transaction as its writes: a committed write
// always has its recorded answer, and a request sent again with the same
// key gets that answer instead of being done again.
//
// The answer is only known once the request's handler has made it, after
// the core's write returned. So the write's transaction is held open
// instead of committed: the first write of the request (core.write, or
// any Store.Write made with the request's context) runs on a goroutine
// that keeps its transaction, and with it the store's write lock, until
// the answer is ready. Later writes and reads of the same request run in
// that transaction too, each in a savepoint, so that one that fails
// undoes only itself, as its own transaction would have. Then the answer
// is inserted and everything commits together, or, for an answer of 500
// or more, is rolled back. Work before the first write (password hashing,
// reading the body, reads) does not hold the lock; work after it (a
// mail sent, the answer encoded) does, for as long as it takes.
//
// All of this lives in the Store the Core writes through (sessionStore,
// installed by New), driven by the session Idempotent puts in the
// request's context: no operation of the core knows of it.

// OutcomeTTL is how long an answer is kept: a key sent again later is a
// new request. Answers older than this are deleted when the next one is
// recorded.
const OutcomeTTL = 24 * time.Hour

// Answer is an HTTP answer as recorded: its status and its body.
type Answer struct {
	Status int
	Body   []byte
}

// ErrKeyReused is the error of a key sent again with a request other than
// the one it was first sent with (another method, path, query or body).
var ErrKeyReused = &roster.Error{Kind: roster.ErrConflict,
	Message: "this Idempotency-Key was already used for a different request",
	Hint:    "send a new key with each new request; send a key again only to retry the very same request"}

// Idempotent runs do, which answers one write request of svc's user (nil
// for a request without a token) sent with key, so that its answer is
// committed with its writes; request is the SHA-256 of the request
// (method, path, query and body). If the key already has an answer,
// that answer is returned instead, with replayed set, and do is not run;
// if it was given for another request, the error is ErrKeyReused. An
// error means the request's writes were not committed, or, for a COMMIT
// that lost its connection, that it is unknown whether they were (the
// error says so): the caller answers it rather than do's answer.
func (c *Core) Idempotent(ctx context.Context, svc roster.Service, key string, request []byte,
	do func(ctx context.Context) Answer) (a Answer, replayed bool, err error) {
	user, err := scope(svc)
	if err != nil {
		return Answer{}, false, err
	}
	k := deriveKeys(key, user)
	now := c.now().UTC().Truncate(time.Microsecond)
	// An answer already recorded is given again without the write lock.
	var o store.Outcome
	var found bool
	err = c.db.Lookup(ctx, func(tx store.Tx) error {
		var err error
		o, found, err = tx.Outcome(ctx, user, k.id)
		return err
	})
	if err != nil {
		return Answer{}, false, err
	}
	if found && fresh(o, now) {
		return k.open(o, request)
	}
	s := &session{user: user, id: k.id, now: now}
	defer s.abandon()
	a = do(context.WithValue(ctx, sessionKey{}, s))
	switch {
	case s.found != nil:
		// Another request with the key committed between the look-up and
		// the lock: its answer is the one.
		return k.open(*s.found, request)
	case s.held == nil:
		// Nothing was written, so there is nothing to record: sent again,
		// the request runs again. But a request with the same key may
		// have committed meanwhile (and made this one fail): if so, its
		// answer is the one.
		err = c.db.Lookup(ctx, func(tx store.Tx) error {
			var err error
			o, found, err = tx.Outcome(ctx, user, k.id)
			return err
		})
		if err == nil && found && fresh(o, now) {
			return k.open(o, request)
		}
		return a, false, nil
	case a.Status >= 500:
		// The request failed: its writes are undone, truthfully answered.
		s.abandon()
		return a, false, nil
	}
	body, err := k.seal(a, request)
	if err != nil {
		return Answer{}, false, err
	}
	err = s.finish(func(tx store.Tx) error {
		if _, err := tx.PruneOutcomes(ctx, now.Add(-OutcomeTTL)); err != nil {
			return err
		}
		inserted, err := tx.InsertOutcome(ctx, store.Outcome{UserID: user, KeyHash: k.id, Request: request,
			Status: a.Status, Body: body, CreatedAt: now})
		if err == nil && !inserted {
			return errRecorded
		}
		return err
	})
	if errors.Is(err, errRecorded) {
		// A concurrent request with the key recorded its answer first
		// (under SERIALIZABLE, which takes no lock): ours is undone.
		err = c.db.Lookup(ctx, func(tx store.Tx) error {
			var err error
			o, found, err = tx.Outcome(ctx, user, k.id)
			return err
		})
		if err != nil || !found {
			return Answer{}, false, errors.Join(errConcurrent, err)
		}
		return k.open(o, request)
	}
	var unknown *store.CommitUnknown
	if errors.As(err, &unknown) {
		// The COMMIT's answer was lost: the outcome recorded with the
		// writes tells whether they committed.
		o, committed, serr := c.settle(ctx, user, k.id, request, now)
		switch {
		case serr != nil:
			return Answer{}, false, err // still unknown, and said so
		case committed && bytes.Equal(o.Body, body):
			return a, false, nil // this request's own answer
		case committed:
			// A request sent again with the key committed instead.
			return k.open(o, request)
		default:
			return Answer{}, false, roster.Errorf(roster.ErrUnavailable, "the connection to the database failed while this request was committing, and it did not commit: nothing was changed").
				WithHint("try again")
		}
	}
	if err != nil {
		return Answer{}, false, err
	}
	return a, false, nil
}

// settleFor bounds how long Idempotent tries to learn whether a request
// whose COMMIT lost its answer committed: a database restarting is back
// within seconds.
const settleFor = 15 * time.Second

// settle finds out whether the transaction that recorded the outcome of
// user's key committed, once its COMMIT lost its answer, and returns the
// outcome if so. It tries to record the key's outcome again, in a
// transaction it then rolls back: the insert waits for the first
// transaction to end, if it has not (a database that was frozen holds it
// open), and finds the outcome there if and only if that one committed.
// The store is asked again while it is unavailable, for up to settleFor
// or until ctx is done.
func (c *Core) settle(ctx context.Context, user int64, id, request []byte, now time.Time) (o store.Outcome, committed bool, err error) {
	deadline := time.Now().Add(settleFor)
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		err = c.db.Write(ctx, func(tx store.Tx) error {
			o, committed = store.Outcome{}, false
			inserted, err := tx.InsertOutcome(ctx, store.Outcome{UserID: user, KeyHash: id, Request: request,
				Body: []byte{}, CreatedAt: now})
			if err != nil || inserted {
				return cmp.Or(err, errSettled) // rolled back: only the answer was wanted
			}
			o, committed, err = tx.Outcome(ctx, user, id)
			return cmp.Or(err, errSettled)
		})
		if errors.Is(err, errSettled) {
			return o, committed, nil
		}
		if !errors.Is(err, roster.ErrUnavailable) || time.Now().Add(pause).After(deadline) {
			return o, false, err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return o, false, ctx.Err()
		}
	}
}

var (
	// errRecorded stops a transaction whose key another one recorded.
	errRecorded = errors.New("the idempotency key's answer was recorded meanwhile")
	// errSuperseded is what the request's writes get once the key's
	// answer is found recorded by another request: nothing more is done.
	errSuperseded = roster.Errorf(roster.ErrConflict, "a request with the same Idempotency-Key was done meanwhile")
	// errRerun is a held transaction that the store would run again: too
	// late, since the request has moved on.
	errRerun = roster.Errorf(roster.ErrUnavailable, "the store could not commit this request for concurrent writes; nothing was changed").
			WithHint("try again")
	errConcurrent = roster.Errorf(roster.ErrUnavailable, "a request with the same Idempotency-Key was done concurrently").
			WithHint("send it again to get its answer")
	// errAbandoned rolls a held transaction back.
	errAbandoned = errors.New("request abandoned")
	// errSettled rolls back settle's probe.
	errSettled = errors.New("settled")
)

// fresh reports whether an outcome is still kept at now.
func fresh(o store.Outcome, now time.Time) bool { return now.Sub(o.CreatedAt) < OutcomeTTL }

// scope is the user whose keys a request's are: keys are per user, as
// Stripe's are per account.
func scope(svc roster.Service) (int64, error) {
	if svc == nil {
		return 0, nil
	}
	s, ok := svc.(*service)
	if !ok || s.signedIn == nil {
		return 0, errors.New("idempotency keys need a Service made by Authenticate")
	}
	return s.signedIn.ID, nil
}

// keys are what a key derives: id, what the store finds the answer by,
// and sealer, the key its body is encrypted with. Neither gives the other
// or the key: the store holds no secret an answer carries (a token made,
// a generated password) in the clear.
type keys struct {
	id     []byte
	sealer [32]byte
	user   int64
}

func deriveKeys(key string, user int64) keys {
	id := sha256.Sum256([]byte("roster idempotency key id\x00" + key))
	return keys{id: id[:], sealer: sha256.Sum256([]byte("roster idempotency answer key\x00" + key)), user: user}
}

// aad binds a sealed answer to its user, key and request.
func (k keys) aad(request []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(k.user))
	b = append(b, k.id...)
	return append(b, request...)
}

func (k keys) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.sealer[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts an answer's body: a random nonce, then the ciphertext.
func (k keys) seal(a Answer, request []byte) ([]byte, error) {
	g, err := k.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(a.Body)+g.Overhead())
	rand.Read(nonce)
	return g.Seal(nonce, nonce, a.Body, k.aad(request)), nil
}

// open is the answer recorded in o, for a request sent again: the same
// request gets it, another gets ErrKeyReused.
func (k keys) open(o store.Outcome, request []byte) (Answer, bool, error) {
	if subtle.ConstantTimeCompare(o.Request, request) != 1 {
		return Answer{}, false, ErrKeyReused
	}
	g, err := k.aead()
	if err != nil {
		return Answer{}, false, err
	}
	if len(o.Body) < g.NonceSize() {
		return Answer{}, false, errors.New("a recorded answer is damaged: too short")
	}
	body, err := g.Open(nil, o.Body[:g.NonceSize()], o.Body[g.NonceSize():], k.aad(request))
	if err != nil {
		return Answer{}, false, fmt.Errorf("a recorded answer does not open: %w", err)
	}
	return Answer{Status: o.Status, Body: body}, true, nil
}

// sessionKey is the context key of a request's session.
type sessionKey struct{}

// session is one request run by Idempotent: its key, and once it wrote,
// the transaction held open for its answer.
type session struct {
	mu    sync.Mutex
	user  int64
	id    []byte
	now   time.Time
	held  *held
	found *store.Outcome // the key's answer, found recorded meanwhile
	ended bool
}

// held is a write transaction kept open on its own goroutine: jobs run
// in it, in turn, until the last commits it or jobs closes and it rolls
// back.
type held struct {
	jobs  chan job
	ready chan error // nil once the first write holds the transaction
	done  chan error // the store's Write's result, once it returns
}

type job struct {
	fn     func(store.Tx) error
	last   bool // commit if fn succeeds
	result chan error
}

// write runs fn, a write of the request: the first holds its transaction
// open, and the later ones run in it, in savepoints.
func (s *session) write(ctx context.Context, db store.Store, fn func(store.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.found != nil || s.ended:
		return errSuperseded
	case s.held != nil:
		return s.held.run(func(tx store.Tx) error {
			return tx.Savepoint(ctx, func(tx store.Tx) error { return fn(uncommitted{tx}) })
		})
	}
	h := &held{jobs: make(chan job), ready: make(chan error, 1), done: make(chan error, 1)}
	go h.hold(ctx, db, s, fn)
	if err := <-h.ready; err != nil {
		<-h.done
		return repanic(err)
	}
	s.held = h
	return nil
}

// read runs fn, a read of the request, in its held transaction, where
// the request's own writes are seen; before the request wrote, ok is
// false and the read is the store's own.
func (s *session) read(ctx context.Context, fn func(store.Tx) error) (ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		return false, nil
	}
	return true, s.held.run(func(tx store.Tx) error {
		return tx.Savepoint(ctx, func(tx store.Tx) error { return fn(uncommitted{tx}) })
	})
}

// hold is the held transaction's goroutine.
func (h *held) hold(ctx context.Context, db store.Store, s *session, fn func(store.Tx) error) {
	handed := false
	err := db.Write(ctx, func(tx store.Tx) error {
		if handed {
			return errRerun
		}
		// Under the write lock: a request with the same key that
		// committed meanwhile is found here.
		o, found, err := tx.Outcome(ctx, s.user, s.id)
		if err != nil {
			return err
		}
		if found && fresh(o, s.now) {
			s.found = &o
			return errSuperseded
		}
		if err := protect(func() error { return fn(tx) }); err != nil {
			return err
		}
		handed = true
		h.ready <- nil
		for j := range h.jobs {
			err := protect(func() error { return j.fn(tx) })
			if j.last {
				return err
			}
			j.result <- err
		}
		return errAbandoned
	})
	if !handed {
		h.ready <- err
	}
	h.done <- err
}

// run runs one job in the held transaction and returns its error.
func (h *held) run(fn func(store.Tx) error) error {
	j := job{fn: fn, result: make(chan error, 1)}
	h.jobs <- j
	return repanic(<-j.result)
}

// finish runs fn last in the held transaction and commits it if fn
// succeeds; the error is fn's or the commit's.
func (s *session) finish(fn func(store.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	h := s.held
	s.held = nil
	h.jobs <- job{fn: fn, last: true}
	close(h.jobs)
	return repanic(<-h.done)
}

// abandon rolls the held transaction back, if there still is one.
func (s *session) abandon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if h := s.held; h != nil {
		s.held = nil
		close(h.jobs)
		<-h.done
	}
}

// panicked carries a panic from the held transaction's goroutine back to
// the request's, where the server turns it into a 500 as it would any.
type panicked struct {
	value any
	stack []byte
}

func (p *panicked) Error() string { return fmt.Sprintf("panic: %v\n%s", p.value, p.stack) }

func protect(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicked{value: v, stack: debug.Stack()}
		}
	}()
	return fn()
}

func repanic(err error) error {
	var p *panicked
	if errors.As(err, &p) {
		panic(p.Error())
	}
	return err
}

// uncommitted is a transaction holding writes of the request not yet
// committed: the catalog cache must not keep what it reads there, since
// a rollback would leave the cache ahead of the store.
type uncommitted struct{ store.Tx }

// In keeps the mark on the same transaction acting in another
// organisation.
func (u uncommitted) In(org int64) store.Tx { return uncommitted{u.Tx.In(org)} }

// sessionStore is the Store a Core writes through: a request run by
// Idempotent has its writes and reads held in one transaction (see
// session); any other passes through.
type sessionStore struct{ store.Store }

func (s sessionStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	if sess, ok := ctx.Value(sessionKey{}).(*session); ok {
		return sess.write(ctx, s.Store, fn)
	}
	return s.Store.Write(ctx, fn)
}

func (s sessionStore) Read(ctx context.Context, fn func(store.Tx) error) error {
	if sess, ok := ctx.Value(sessionKey{}).(*session); ok {
		if held, err := sess.read(ctx, fn); held {
			return err
		}
	}
	return s.Store.Read(ctx, fn)
}

func (s sessionStore) Lookup(ctx context.Context, fn func(store.Tx) error) error {
	if sess, ok := ctx.Value(sessionKey{}).(*session); ok {
		if held, err := sess.read(ctx, fn); held {
			return err
		}
	}
	return s.Store.Lookup(ctx, fn)
}
