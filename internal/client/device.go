package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/wire"
)

// The device authorization grant (RFC 8628) of roster login --web: the
// client asks for a code, a person approves it in a browser, the client
// polls for the token.

// deviceClientID and deviceGrantType are what the server's device
// endpoints expect (api.DeviceClientID, api.DeviceGrantType).
const (
	deviceClientID  = "roster"
	deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"
)

// postForm posts a form to a device endpoint and decodes a 200's JSON
// into out; a 400 with an OAuth error is returned as roster.DeviceError.
func (c *Client) postForm(ctx context.Context, path string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+wire.Prefix+path, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusBadRequest && resp.Header.Get("Content-Type") == "application/json" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		var oe struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &oe) == nil && oe.Error != "" {
			return roster.DeviceError(oe.Error)
		}
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	if resp.StatusCode != http.StatusOK {
		return c.failure(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return c.cutOff(err)
	}
	return nil
}

// DeviceCode asks the server for a device code for a token req
// describes, to be approved by a person of the client's organisation.
func (c *Client) DeviceCode(ctx context.Context, req roster.DeviceRequest) (roster.DeviceGrant, error) {
	form := url.Values{"client_id": {deviceClientID}, "token_name": {req.TokenName}, "host": {req.Host}, "org": {c.org}}
	if req.TokenTTL > 0 {
		form.Set("token_ttl", strconv.FormatInt(int64(req.TokenTTL/time.Second), 10))
	}
	var ans struct {
		roster.DeviceGrant
		ExpiresIn int64 `json:"expires_in"`
		Interval  int64 `json:"interval"`
	}
	if err := c.postForm(ctx, "/device/code", form, &ans); err != nil {
		return roster.DeviceGrant{}, err
	}
	g := ans.DeviceGrant
	g.ExpiresIn, g.Interval = time.Duration(ans.ExpiresIn)*time.Second, time.Duration(ans.Interval)*time.Second
	return g, nil
}

// DeviceToken polls once for the token of deviceCode: the token, or a
// roster.DeviceError saying why not yet, or not at all.
func (c *Client) DeviceToken(ctx context.Context, deviceCode string) (string, error) {
	if err := c.refusePlain("a token"); err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {deviceGrantType}, "device_code": {deviceCode}, "client_id": {deviceClientID}}
	var ans struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.postForm(ctx, "/device/token", form, &ans); err != nil {
		return "", err
	}
	return ans.AccessToken, nil
}
