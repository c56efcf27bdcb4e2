package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
)

// noticeLimit bounds the notices one look returns: the newest.
const noticeLimit = 200

// notice turns an audit event about a user into what the user reads, or
// reports false for an event that is no notice: only changes to their
// roles and memberships are.
func notice(e roster.AuditEvent) (roster.Notice, bool) {
	n := roster.Notice{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action}
	d := e.Details
	switch e.Action {
	case "user.set_role", "role.assign", "role.unassign":
		n.Text = fmt.Sprintf("changed your roles from %s to %s", names(d["from"]), names(d["to"]))
	case "role.reassign":
		n.Text = fmt.Sprintf("moved you from the role %s, which was deleted, to %s", names(d["from"]), names(d["to"]))
	case "project.member.add":
		n.Text = fmt.Sprintf("added you to the project %s", names(d["project"]))
	case "project.member.remove":
		n.Text = fmt.Sprintf("removed you from the project %s", names(d["project"]))
	default:
		return n, false
	}
	return n, true
}

// names writes an audit detail, a name or a list of them, for a person.
func names(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			parts = append(parts, fmt.Sprint(x))
		}
		return names(parts)
	case []string:
		if len(v) == 0 {
			return "none"
		}
		return strings.Join(v, ", ")
	}
	return fmt.Sprint(v)
}

func (s *service) Notices(ctx context.Context, markSeen bool) ([]roster.Notice, error) {
	out := []roster.Notice{}
	run := s.account().read
	if markSeen {
		run = s.account().write
	}
	err := run(ctx, func(o *op) error {
		u := o.act.user
		if u == nil {
			return nil // the local administrator has no account to be told of
		}
		seen, err := o.tx.NoticesSeen(ctx, u.ID)
		if err != nil {
			return err
		}
		events, err := o.tx.ListAudit(ctx, store.AuditQuery{TargetID: u.ID, AfterID: seen, Limit: noticeLimit})
		if err != nil {
			return err
		}
		newest := seen
		for _, e := range events {
			newest = max(newest, e.ID)
			if n, ok := notice(e); ok && e.Actor != u.Handle() {
				out = append(out, n)
			}
		}
		if markSeen && newest > seen {
			return o.tx.SetNoticesSeen(ctx, u.ID, newest)
		}
		return nil
	})
	return out, err
}
