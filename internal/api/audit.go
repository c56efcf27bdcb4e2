package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// GET /audit/stream: the audit log as Server-Sent Events, oldest first,
// each event's id the audit event's, so that a client cut off resumes
// where it stopped (?after=ID, or the Last-Event-ID header browsers and
// SSE libraries send) and sees no event twice and none missed: events are
// read by id from the store, which survives the server. With ?follow=true
// the stream stays open and carries new events as they are written, with
// a comment line every heartbeat so that proxies do not cut an idle
// stream; without, it ends with an "end" event once caught up, so that
// an export cut short is told from one complete. A failure after the
// stream began is an "error" event carrying the error.

// defaultHeartbeat is how often an idle stream carries a comment line.
const defaultHeartbeat = 15 * time.Second

// streamWriteTimeout bounds each write of a stream: the server's own
// WriteTimeout would cut a stream that lasts longer than it.
const streamWriteTimeout = 30 * time.Second

func (s *server) auditStream(w http.ResponseWriter, c call) error {
	p := c.queryParser()
	q := roster.AuditStream{Since: p.time("since"), Until: p.time("until"), Follow: p.bool("follow")}
	after := c.query("after")
	if id := c.r.Header.Get("Last-Event-ID"); after == "" && id != "" {
		after = id
	}
	if after != "" {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil || n < 0 {
			return roster.Errorf(roster.ErrInvalid, "invalid event id %q to resume after", after)
		}
		q.After = n
	}
	if p.err != nil {
		return p.err
	}
	// Check access before the first byte: a refusal is an HTTP status.
	if _, err := c.svc.ListAudit(c.ctx(), roster.AuditFilter{Limit: 1}); err != nil {
		return err
	}
	sw := &sseWriter{w: w, rc: http.NewResponseController(w)}
	h := w.Header()
	h.Set("Content-Type", wire.ContentEventStream)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	if err := sw.send("", ": stream\n\n"); err != nil {
		return nil // the client left
	}
	stop := make(chan struct{})
	var beating sync.WaitGroup
	defer func() { close(stop); beating.Wait() }() // no write after the handler returns
	if q.Follow {
		beat := s.heartbeat
		if beat <= 0 {
			beat = defaultHeartbeat
		}
		beating.Add(1)
		go func() {
			defer beating.Done()
			t := time.NewTicker(beat)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					_ = sw.send("", ": heartbeat\n\n")
				}
			}
		}()
	}
	err := c.svc.StreamAudit(c.ctx(), q, func(e roster.AuditEvent) error {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return sw.send(strconv.FormatInt(e.ID, 10), string(b))
	})
	switch {
	case err != nil && c.ctx().Err() == nil && !sw.broken:
		s.logInternal(c.r, err)
		d, _ := json.Marshal(wire.Detail(err))
		_ = sw.event("error", string(d))
	case err == nil:
		_ = sw.event("end", "{}")
	}
	return nil
}

// sseWriter writes Server-Sent Events, one goroutine at a time (events
// and heartbeats), each flushed at once.
type sseWriter struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	rc     *http.ResponseController
	broken bool // a write failed: the client is gone
}

// send writes an audit event with its id, or with id "" text as it is.
func (s *sseWriter) send(id, data string) error {
	if id == "" {
		return s.write([]byte(data))
	}
	var b bytes.Buffer
	b.WriteString("id: " + id + "\nevent: audit\ndata: " + data + "\n\n")
	return s.write(b.Bytes())
}

// event writes an event of a kind other than audit.
func (s *sseWriter) event(kind, data string) error {
	return s.write([]byte("event: " + kind + "\ndata: " + data + "\n\n"))
}

func (s *sseWriter) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	_, err := s.w.Write(b)
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		s.broken = true
	}
	return err
}
