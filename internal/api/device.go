package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// The device authorization grant (RFC 8628) that roster login --web
// uses. Both endpoints take form-encoded bodies, as the RFC has them, and
// answer its errors as OAuth does: 400 with {"error": code}.

// DeviceClientID is the client_id of roster's own command line, the one
// client of these endpoints.
const DeviceClientID = "roster"

// DeviceGrantType is the grant_type of a poll for a device's token.
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// deviceCodeAnswer is RFC 8628's device authorization response.
type deviceCodeAnswer struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// deviceTokenAnswer is the token a poll gets once approved.
type deviceTokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in,omitempty"`
	TokenID     int64  `json:"token_id"`
}

// oauthError is an OAuth error response (RFC 6749, section 5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (s *server) deviceRoutes() []route {
	const v1 = wire.Prefix
	return []route{
		{"POST " + v1 + "/device/code", open, func(w http.ResponseWriter, c call) error {
			// Every request counts against the client: each makes a code a
			// person may be asked to approve.
			if ok, wait := s.tokens.spend(s.limitKey(c.r)); !ok {
				s.metrics.refusedToken.Inc()
				return rateLimited(wait)
			}
			if c.r.PostFormValue("client_id") != DeviceClientID {
				return writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_client", Description: "client_id must be " + DeviceClientID})
			}
			var ttl time.Duration
			if v := c.r.PostFormValue("token_ttl"); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n <= 0 || n > int64(roster.MaxTokenTTL/time.Second) {
					return roster.Errorf(roster.ErrInvalid, "invalid token_ttl %.20q", v).WithHint("give whole seconds")
				}
				ttl = time.Duration(n) * time.Second
			}
			ctx, err := s.b.OrgContext(s.withClient(c.r), c.r.PostFormValue("org"))
			if err != nil {
				return err
			}
			g, err := s.b.StartDevice(ctx, roster.DeviceRequest{TokenName: c.r.PostFormValue("token_name"), TokenTTL: ttl,
				Host: c.r.PostFormValue("host")})
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, deviceCodeAnswer{DeviceCode: g.DeviceCode, UserCode: g.UserCode,
				VerificationURI: g.VerificationURI, VerificationURIComplete: g.VerificationURIComplete,
				ExpiresIn: int64(g.ExpiresIn / time.Second), Interval: int64(g.Interval / time.Second)})
		}},
		{"POST " + v1 + "/device/token", open, func(w http.ResponseWriter, c call) error {
			if c.r.PostFormValue("grant_type") != DeviceGrantType {
				return writeJSON(w, http.StatusBadRequest, oauthError{Error: "unsupported_grant_type"})
			}
			if c.r.PostFormValue("client_id") != DeviceClientID {
				return writeJSON(w, http.StatusBadRequest, oauthError{Error: "invalid_client", Description: "client_id must be " + DeviceClientID})
			}
			tok, err := s.b.PollDevice(s.withClient(c.r), c.r.PostFormValue("device_code"))
			var de roster.DeviceError
			if errors.As(err, &de) {
				// A guessed device code is a failed credential.
				if de == roster.DeviceInvalidGrant {
					if ok, wait := s.tokens.spend(s.limitKey(c.r)); !ok {
						s.metrics.refusedToken.Inc()
						return rateLimited(wait)
					}
				}
				return writeJSON(w, http.StatusBadRequest, oauthError{Error: string(de), Description: deviceErrorText[de]})
			}
			if err != nil {
				return err
			}
			ans := deviceTokenAnswer{AccessToken: tok.Token, TokenType: "Bearer", TokenID: tok.ID}
			if tok.ExpiresAt != nil {
				ans.ExpiresIn = int64(tok.ExpiresAt.Sub(tok.CreatedAt) / time.Second)
			}
			return writeJSON(w, http.StatusOK, ans)
		}},
	}
}

// withClient is r's context carrying its client's address, which the
// approver is shown and the audit log records.
func (s *server) withClient(r *http.Request) context.Context {
	addr := r.RemoteAddr
	if a := s.clientAddr(r); a.IsValid() {
		addr = a.String()
	}
	return core.WithClient(r.Context(), addr)
}

// deviceErrorText says what each answer of a poll means.
var deviceErrorText = map[roster.DeviceError]string{
	roster.DevicePending:      "the request is not yet approved",
	roster.DeviceSlowDown:     "polled too soon: wait the interval, which grew by 5 seconds",
	roster.DeviceAccessDenied: "the request was denied",
	roster.DeviceExpired:      "the code expired before it was approved",
	roster.DeviceInvalidGrant: "unknown device code, or its token was already handed out",
}
