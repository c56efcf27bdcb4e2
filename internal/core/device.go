package core

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/token"
)

// The device authorization grant (RFC 8628), as roster login --web uses
// it: a machine asks for a token, a person signed in on the pages
// approves or denies, the machine polls until then.
const (
	// DeviceCodeLife is how long a request may wait for its approval.
	DeviceCodeLife = 10 * time.Minute
	// DevicePollInterval is how often a machine may poll at first; each
	// poll too soon adds deviceSlowDown to it (RFC 8628, section 3.5).
	DevicePollInterval = 5 * time.Second
	deviceSlowDown     = 5 * time.Second
	// defaultDeviceTokenName names the token of a request that names none.
	defaultDeviceTokenName = "roster login --web"
)

// userCodeAlphabet has no vowels (no words) and no look-alikes: 20
// letters, 8 of them a code, about 34 bits, for 10 minutes and a
// limited number of guesses.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// newUserCode makes a user code: XXXX-XXXX.
func newUserCode() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	var sb strings.Builder
	for i, x := range b {
		if i == 4 {
			sb.WriteByte('-')
		}
		// 256 = 12×20 + 16: the first 240 values are uniform.
		for x >= 240 {
			var one [1]byte
			if _, err := rand.Read(one[:]); err != nil {
				panic(err)
			}
			x = one[0]
		}
		sb.WriteByte(userCodeAlphabet[int(x)%len(userCodeAlphabet)])
	}
	return sb.String()
}

// NormalizeUserCode is a user code as typed, in its stored form:
// upper-case, without spaces or dashes, then XXXX-XXXX.
func NormalizeUserCode(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
	if len(s) != 8 {
		return s
	}
	return s[:4] + "-" + s[4:]
}

// StartDevice makes a device authorization request in the organisation
// of ctx.
func (c *Core) StartDevice(ctx context.Context, req roster.DeviceRequest) (roster.DeviceGrant, error) {
	if req.TokenName == "" {
		req.TokenName = defaultDeviceTokenName
	}
	if err := roster.ValidateName(req.TokenName); err != nil {
		return roster.DeviceGrant{}, err
	}
	if err := roster.ValidateName(req.Host); err != nil {
		return roster.DeviceGrant{}, err
	}
	if req.TokenTTL == 0 {
		req.TokenTTL = roster.DefaultTokenTTL
	}
	if req.TokenTTL < time.Minute || req.TokenTTL > roster.MaxTokenTTL {
		return roster.DeviceGrant{}, roster.Errorf(roster.ErrInvalid, "invalid token lifetime %s", req.TokenTTL).
			WithHint("give one from a minute to ten years")
	}
	var g roster.DeviceGrant
	s := &service{core: c, actor: Actor{User: nobody, Via: "device"}}
	err := s.anonymous(ctx, true, func(o *op) error {
		set, err := o.settings()
		if err != nil {
			return err
		}
		page, err := o.pageURL(set, "device")
		if err != nil {
			return err
		}
		if org, err := o.orgRow(); err != nil {
			return err
		} else if org.Status != roster.OrgActive {
			return failedSignIn()
		}
		host := req.Host
		if addr := roster.ClientOf(o.ctx); addr != "" {
			host = strings.TrimSpace(host + " (" + addr + ")")
		}
		secret, hash := token.New(token.Device)
		code := newUserCode()
		d := store.DeviceCode{DeviceHash: hash[:], UserCode: code, TokenName: req.TokenName, TokenTTL: req.TokenTTL,
			Host: host, Interval: DevicePollInterval, CreatedAt: o.now, ExpiresAt: o.now.Add(DeviceCodeLife)}
		id, err := o.tx.InsertDeviceCode(o.ctx, d)
		if err != nil {
			return err
		}
		o.act.via = "device"
		g = roster.DeviceGrant{DeviceCode: secret, UserCode: code, VerificationURI: page,
			VerificationURIComplete: page + "?code=" + code, ExpiresIn: DeviceCodeLife, Interval: DevicePollInterval}
		return o.audit("device.request", host, 0, map[string]any{"device_request": id, "token_name": req.TokenName,
			"token_ttl": req.TokenTTL.String()})
	})
	return g, err
}

// pageURL is the address of a page of the organisation acted in, under
// base_url: /o/<slug>/page, or /page for the system organisation's.
func (o *op) pageURL(set roster.Settings, page string) (string, error) {
	base := strings.TrimRight(set["base_url"], "/")
	if base == "" {
		return "", roster.Errorf(roster.ErrUnavailable, "this server has no base URL for its pages").
			WithHint("its host gives one with roster serve --base-url")
	}
	if o.tx.Org() == store.SystemOrg {
		return base + "/" + page, nil
	}
	org, err := o.orgRow()
	if err != nil {
		return "", err
	}
	return base + "/o/" + org.Slug + "/" + page, nil
}

// PollDevice answers a machine polling with its device code: the token,
// once approved (and only once), else a roster.DeviceError.
func (c *Core) PollDevice(ctx context.Context, deviceCode string) (roster.APIToken, error) {
	hash, err := token.Parse(token.Device, deviceCode)
	if err != nil {
		return roster.APIToken{}, roster.DeviceInvalidGrant
	}
	var out roster.APIToken
	var answer error
	s := &service{core: c, actor: Actor{User: nobody, Via: "device"}}
	err = s.anonymous(ctx, true, func(o *op) error {
		d, found, err := o.tx.DeviceCodeByHash(o.ctx, hash[:])
		if err != nil {
			return err
		}
		if !found {
			answer = roster.DeviceInvalidGrant
			return nil
		}
		o.tx = o.tx.In(d.OrgID)
		switch {
		case d.Status == store.DeviceDenied:
			answer = roster.DeviceAccessDenied
			return nil
		case d.Status == store.DeviceUsed:
			answer = roster.DeviceInvalidGrant
			return nil
		case d.Status == store.DevicePending && !o.now.Before(d.ExpiresAt):
			answer = roster.DeviceExpired
			return nil
		case d.Status == store.DevicePending:
			interval := d.Interval
			answer = roster.DevicePending
			if d.LastPollAt != nil && o.now.Sub(*d.LastPollAt) < d.Interval {
				interval += deviceSlowDown
				answer = roster.DeviceSlowDown
			}
			return o.tx.PollDeviceCode(o.ctx, d.ID, o.now, interval)
		}
		// Approved: the token is made now, and handed out once.
		if ok, err := o.tx.UseDeviceCode(o.ctx, d.ID); err != nil || !ok {
			answer = roster.DeviceInvalidGrant
			return err
		}
		u, err := o.tx.UserByRef(o.ctx, strconv.FormatInt(d.UserID, 10))
		if err != nil || u.StatusAt(o.now) != roster.StatusActive {
			answer = roster.DeviceAccessDenied
			return nil
		}
		o.act = o.principal(u, "device")
		// The lifetime asked for, capped by tokens.max_ttl as a login's is.
		end, err := o.tokenEnd(0, nil, d.TokenTTL)
		if err != nil {
			return err
		}
		out, err = o.mintToken(u, d.TokenName, end, nil)
		if err != nil {
			return err
		}
		return o.audit("device.token", u.Handle(), u.ID, map[string]any{"device_request": d.ID, "token_id": out.ID})
	})
	if err == nil {
		err = answer
	}
	return out, err
}

// unknownDevice is the answer for a user code that names no request
// that may still be decided.
func unknownDevice() error {
	return roster.Errorf(roster.ErrNotFound, "no request waits for that code here").
		WithHint("check the code your terminal shows, and that it is not older than 10 minutes; else run roster login --web again")
}

// DeviceInfo shows the request a user code names in the organisation of
// ctx, while it may still be decided.
func (c *Core) DeviceInfo(ctx context.Context, userCode string) (roster.DeviceInfo, error) {
	var info roster.DeviceInfo
	s := &service{core: c, actor: Actor{User: nobody, Via: "device"}}
	err := s.anonymous(ctx, false, func(o *op) error {
		d, err := o.pendingDevice(userCode)
		info = roster.DeviceInfo{UserCode: d.UserCode, TokenName: d.TokenName, TokenTTL: d.TokenTTL, Host: d.Host, ExpiresAt: d.ExpiresAt}
		return err
	})
	return info, err
}

// pendingDevice finds the request userCode names in the organisation
// acted in, pending and live.
func (o *op) pendingDevice(userCode string) (store.DeviceCode, error) {
	d, found, err := o.tx.DeviceCodeByUserCode(o.ctx, NormalizeUserCode(userCode))
	if err != nil {
		return d, err
	}
	if !found || d.Status != store.DevicePending || !o.now.Before(d.ExpiresAt) {
		return d, unknownDevice()
	}
	return d, nil
}

// DecideDevice approves or denies, as the signed-in person of session s,
// the request userCode names in their organisation: a request of another
// organisation is not found there (R21).
func (c *Core) DecideDevice(ctx context.Context, s Session, userCode string, approve bool) error {
	svc, ok := s.Service.(*service)
	if !ok {
		return roster.Errorf(roster.ErrUnauthenticated, "not signed in")
	}
	return svc.write(ctx, func(o *op) error {
		if o.act.user == nil {
			return roster.Errorf(roster.ErrForbidden, "only a person signed in may approve a device")
		}
		if o.act.user.MustChangePassword {
			return roster.Errorf(roster.ErrForbidden, "you must change your password first (R17)")
		}
		d, err := o.pendingDevice(userCode)
		if err != nil {
			return err
		}
		status, action := store.DeviceDenied, "device.deny"
		if approve {
			status, action = store.DeviceApproved, "device.approve"
		}
		if ok, err := o.tx.DecideDeviceCode(o.ctx, d.ID, o.act.user.ID, status, o.now); err != nil {
			return err
		} else if !ok {
			return unknownDevice()
		}
		return o.audit(action, o.act.user.Handle(), o.act.user.ID, map[string]any{"device_request": d.ID, "host": d.Host,
			"token_name": d.TokenName})
	})
}
