package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// Reconnecting to the audit stream: a stream cut off (the server
// restarted, a proxy closed it) is opened again after the last event
// received, so the caller sees every event once. Only failures to reach
// the server are tried again, at most reconnectTries times in a row with
// waits growing from reconnectFirst to reconnectMax; a refusal is final.
const (
	reconnectTries = 40
	reconnectFirst = 20 * time.Millisecond
	reconnectMax   = time.Second
)

func (c *Client) StreamAudit(ctx context.Context, q roster.AuditStream, fn func(roster.AuditEvent) error) error {
	wait, failures := reconnectFirst, 0
	for {
		progressed := false
		done, err := c.streamAudit(ctx, q, func(e roster.AuditEvent) error {
			q.After, progressed = e.ID, true
			return fn(e)
		})
		switch {
		case done:
			return err
		case progressed:
			wait, failures = reconnectFirst, 0
		}
		if failures++; failures > reconnectTries {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
		wait = min(2*wait, reconnectMax)
	}
}

// streamAudit reads the stream once. done is false when it was cut off
// or could not be opened, and reading again after the last event may
// succeed.
func (c *Client) streamAudit(ctx context.Context, q roster.AuditStream, fn func(roster.AuditEvent) error) (done bool, err error) {
	path := query("/audit/stream", "after", strconv.FormatInt(q.After, 10), "since", timeParam(q.Since),
		"until", timeParam(q.Until), "follow", strconv.FormatBool(q.Follow))
	resp, err := c.stream(ctx, http.MethodGet, path, "", nil, "", false)
	if l := (*lost)(nil); errors.As(err, &l) {
		return ctx.Err() != nil, l.err
	}
	if err != nil {
		return !errors.Is(err, roster.ErrUnavailable), err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var kind, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data == "" {
				continue
			}
			if done, err := c.dispatch(resp, kind, data, fn); done || err != nil {
				return true, err
			}
			kind, data = "", ""
		case strings.HasPrefix(line, ":"): // a comment: the heartbeat
		case strings.HasPrefix(line, "event: "):
			kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	if ctx.Err() != nil {
		return true, context.Cause(ctx)
	}
	cut := sc.Err()
	if cut == nil {
		cut = errors.New("the stream ended before its end")
	}
	return false, c.unreachable(cut)
}

// dispatch hands one event of the stream on; done is true at its end.
func (c *Client) dispatch(resp *http.Response, kind, data string, fn func(roster.AuditEvent) error) (bool, error) {
	switch kind {
	case "end":
		return true, nil
	case "error":
		var d wire.ErrorDetail
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return true, c.unexpected(resp, fmt.Sprintf("undecodable error: %v", err))
		}
		return true, wire.Err(d)
	}
	var e roster.AuditEvent
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return true, c.unexpected(resp, fmt.Sprintf("undecodable event: %v", err))
	}
	return false, fn(e)
}

func (c *Client) VerifyAudit(ctx context.Context) (roster.AuditVerification, error) {
	return do[roster.AuditVerification](ctx, c, http.MethodGet, "/audit/verify", nil)
}

func (c *Client) PruneAudit(ctx context.Context, before time.Time) (roster.AuditPruneResult, error) {
	return do[roster.AuditPruneResult](ctx, c, http.MethodPost, "/audit/prune", wire.PruneAudit{Before: before})
}
