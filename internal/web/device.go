package web

import (
	"errors"
	"net/http"

	"github.com/roster-dev/roster/internal/roster"
)

// The /device page, where a person signed in approves or denies the
// token roster login --web asks for (RFC 8628): they enter, or confirm,
// the code their terminal shows, and see the token's name, lifetime and
// the host that asked.

func (p *pages) deviceForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.signedIn(w, r); !ok {
		return
	}
	p.render(w, r, http.StatusOK, "device", &page{Title: "Approve a device",
		Values: map[string]string{"code": r.URL.Query().Get("code")}})
}

// deviceShow shows the request the code names, to approve or deny.
func (p *pages) deviceShow(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.signedIn(w, r); !ok {
		return
	}
	code := r.PostFormValue("code")
	info, ok := p.deviceInfo(w, r, code)
	if ok {
		p.render(w, r, http.StatusOK, "device-confirm", &page{Title: "Approve a device", Device: &info})
	}
}

// deviceInfo finds the request code names; when there is none it has
// answered with the form again, and charged the client for the guess.
func (p *pages) deviceInfo(w http.ResponseWriter, r *http.Request, code string) (roster.DeviceInfo, bool) {
	pg := &page{Title: "Approve a device", Values: map[string]string{"code": code}}
	if code == "" {
		pg.field("code", "Enter the code your terminal shows.")
		p.render(w, r, http.StatusUnprocessableEntity, "device", pg)
		return roster.DeviceInfo{}, false
	}
	info, err := p.b.DeviceInfo(r.Context(), code)
	if errors.Is(err, roster.ErrNotFound) {
		if wait := p.guard.Charge(r); wait > 0 {
			p.tooMany(w, r, wait)
			return info, false
		}
		pg.Problem = problem(err)
		p.render(w, r, http.StatusNotFound, "device", pg)
		return info, false
	}
	if err != nil {
		p.failure(w, r, err)
		return info, false
	}
	return info, true
}

func (p *pages) deviceDecide(w http.ResponseWriter, r *http.Request) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	code, approve := r.PostFormValue("code"), r.PostFormValue("decision") == "approve"
	if _, ok := p.deviceInfo(w, r, code); !ok {
		return
	}
	if err := p.b.DecideDevice(p.ctx(r), s, code, approve); err != nil {
		p.failure(w, r, err)
		return
	}
	if approve {
		p.message(w, r, http.StatusOK, "Device approved", &next{"/account", "Go to your account"},
			"The token is on its way to your terminal: go back to it.",
			"You can revoke the token at any time on your account page.")
		return
	}
	p.message(w, r, http.StatusOK, "Device denied", &next{"/account", "Go to your account"},
		"No token was made. The terminal that asked is told so.")
}

// deviceRoutes routes the /device page.
func (p *pages) deviceRoutes() {
	p.handle("GET /device", p.deviceForm)
	p.handle("POST /device", p.deviceShow)
	p.handle("POST /device/decide", p.deviceDecide)
}
