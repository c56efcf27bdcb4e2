package api

import (
	"net/http"
	"sync"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// Progress of long writes (docs/api.md, "Progress"). An import or apply
// of many rows, or on a slow database, can outlast the request timeout
// that bounds every other request. A client that asks for it with the
// Roster-Progress header is sent, every Options.Progress while the work
// runs, a 102 Processing saying how far the work has got; each pushes
// the connection's write deadline ahead, and the request is bounded by
// Options.LongTimeout instead of RequestTimeout. The final answer, and
// the one an idempotency key keeps, are what they would be without: no
// 1xx is part of either.

// progressing are the routes that send progress when asked.
var progressing = map[string]bool{
	"POST " + wire.Prefix + "/import": true, "POST " + wire.OrgsPrefix + "/import": true,
	"POST " + wire.Prefix + "/apply": true, "POST " + wire.OrgsPrefix + "/apply": true,
}

// defaultProgress is Options.Progress when not given.
const defaultProgress = 5 * time.Second

// sendsProgress reports whether r, served by the route of pattern, is
// sent progress. Only a client that asks is: one that cannot take a 1xx
// response, or is behind a proxy that cannot relay one, would read the
// first 102 as the answer. HTTP/1.0 has no 1xx responses.
func (s *server) sendsProgress(pattern string, r *http.Request) bool {
	return s.progress > 0 && progressing[pattern] && r.ProtoAtLeast(1, 1) && r.Header.Get(wire.ProgressHeader) != ""
}

// withProgress wraps a route's work, the recording of its answer for an
// idempotency key included, to send progress to the connection while it
// runs.
func (s *server) withProgress(serve serveFunc) serveFunc {
	return func(w http.ResponseWriter, c call) error {
		// The work reads the body whole anyway. Read before the first 102
		// is sent, nothing reads the connection while one is written (as
		// an automatic 100 Continue would be).
		if _, err := wholeBody(c.r); err != nil {
			return bodyError(err)
		}
		p := startProgress(w, s.progress, s.writeTimeout)
		defer p.stop()
		c.r = c.r.WithContext(roster.WithProgress(c.ctx(), p.note))
		return serve(p, c)
	}
}

// progress sends a 102 Processing to w every so often until the answer
// starts: it is the ResponseWriter the work writes its answer to, and
// touching it ends the 102s first, so that w is never written from two
// goroutines.
type progress struct {
	w             http.ResponseWriter // the connection's
	writeTimeout  time.Duration
	quit, stopped chan struct{} // closed by stop, and by run as it returns
	once          sync.Once     // of stop

	mu          sync.Mutex // guards how far the work last said it got:
	stage       string     // "" until it says
	done, total int
}

// startProgress sends w a 102 every so often, from now until stop.
func startProgress(w http.ResponseWriter, every, writeTimeout time.Duration) *progress {
	p := &progress{w: w, writeTimeout: writeTimeout, quit: make(chan struct{}), stopped: make(chan struct{})}
	p.extend()
	go p.run(every)
	return p
}

func (p *progress) run(every time.Duration) {
	defer close(p.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.send()
		}
	}
}

// send writes one 102, saying how far the work has got if it said.
func (p *progress) send() {
	p.extend()
	h := p.w.Header()
	p.mu.Lock()
	if p.stage != "" {
		h.Set(wire.ProgressHeader, wire.FormatProgress(p.stage, p.done, p.total))
	}
	p.mu.Unlock()
	p.w.WriteHeader(http.StatusProcessing)
	// The 102 carried the header map as it stood (RFC 8297): the answer
	// must not.
	h.Del(wire.ProgressHeader)
}

// extend gives the connection writeTimeout from now to write what comes
// next, as a new request would have.
func (p *progress) extend() {
	if p.writeTimeout > 0 {
		// A writer that cannot (a test's recorder) has no deadline to push.
		_ = http.NewResponseController(p.w).SetWriteDeadline(time.Now().Add(p.writeTimeout))
	}
}

// note is the work's roster.Progress: it keeps how far the work got for
// the next 102.
func (p *progress) note(stage string, done, total int) {
	p.mu.Lock()
	p.stage, p.done, p.total = stage, done, total
	p.mu.Unlock()
}

// stop ends the 102s and gives the answer a write deadline of its own.
func (p *progress) stop() {
	p.once.Do(func() {
		close(p.quit)
		<-p.stopped
		p.extend()
	})
}

func (p *progress) Header() http.Header {
	p.stop()
	return p.w.Header()
}

func (p *progress) WriteHeader(code int) {
	p.stop()
	p.w.WriteHeader(code)
}

func (p *progress) Write(b []byte) (int, error) {
	p.stop()
	return p.w.Write(b)
}
