package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/store"
)

var deviceTests = []test{
	{"a device code is stored, found by its hash in any organisation and by its user code in its own",
		[]string{"InsertDeviceCode", "DeviceCodeByHash", "DeviceCodeByUserCode", "PollDeviceCode"}, testDeviceCodeFound},
	{"a device code is decided once, while live, and used once", []string{"DecideDeviceCode", "UseDeviceCode"}, testDeviceCodeDecided},
}

// newDeviceCode is a request as roster login --web makes one, made at t0.
func newDeviceCode(name, userCode string) store.DeviceCode {
	return store.DeviceCode{DeviceHash: []byte("sha256-of-device-" + name), UserCode: userCode, TokenName: "login from " + name,
		TokenTTL: 90 * 24 * time.Hour, Host: name + " (192.0.2.7)", Interval: 5 * time.Second, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

func addDeviceCode(t *testing.T, s store.Store, org int64, d store.DeviceCode) int64 {
	t.Helper()
	var id int64
	writeIn(t, s, org, func(tx store.Tx) error {
		var err error
		id, err = tx.InsertDeviceCode(t.Context(), d)
		return err
	})
	if id == 0 {
		t.Fatal("InsertDeviceCode returned id 0")
	}
	return id
}

func deviceByUserCode(t *testing.T, s store.Store, org int64, code string) (store.DeviceCode, bool) {
	t.Helper()
	var d store.DeviceCode
	var found bool
	readIn(t, s, org, func(tx store.Tx) error {
		var err error
		d, found, err = tx.DeviceCodeByUserCode(t.Context(), code)
		return err
	})
	return d, found
}

func testDeviceCodeFound(t *testing.T, s store.Admin) {
	other := addOrg(t, s, "neighbour")
	want := newDeviceCode("laptop", "BCDF-GHJK")
	id := addDeviceCode(t, s, store.SystemOrg, want)
	// The neighbour has a request with the same user code: each finds its own.
	otherID := addDeviceCode(t, s, other, newDeviceCode("desk", "BCDF-GHJK"))

	var byHash store.DeviceCode
	var found bool
	readIn(t, s, other, func(tx store.Tx) error {
		var err error
		byHash, found, err = tx.DeviceCodeByHash(t.Context(), want.DeviceHash)
		return err
	})
	if !found || byHash.ID != id || byHash.OrgID != store.SystemOrg || byHash.UserCode != want.UserCode || byHash.TokenName != want.TokenName ||
		byHash.TokenTTL != want.TokenTTL || byHash.Host != want.Host || byHash.Interval != want.Interval || byHash.Status != store.DevicePending ||
		byHash.UserID != 0 || !byHash.CreatedAt.Equal(t0) || !byHash.ExpiresAt.Equal(want.ExpiresAt) || byHash.LastPollAt != nil {
		t.Fatalf("DeviceCodeByHash = %+v, %v; want %+v", byHash, found, want)
	}
	if d, ok := deviceByUserCode(t, s, store.SystemOrg, "BCDF-GHJK"); !ok || d.ID != id {
		t.Fatalf("DeviceCodeByUserCode in its organisation = %+v, %v", d, ok)
	}
	if d, ok := deviceByUserCode(t, s, other, "BCDF-GHJK"); !ok || d.ID != otherID || d.OrgID != other {
		t.Fatalf("DeviceCodeByUserCode in the neighbour = %+v, %v; want its own", d, ok)
	}
	if _, ok := deviceByUserCode(t, s, store.SystemOrg, "ZZZZ-ZZZZ"); ok {
		t.Fatal("DeviceCodeByUserCode found an unknown code")
	}
	readIn(t, s, store.SystemOrg, func(tx store.Tx) error {
		_, ok, err := tx.DeviceCodeByHash(t.Context(), []byte("unknown"))
		if ok {
			t.Error("DeviceCodeByHash found an unknown hash")
		}
		return err
	})

	polled := t0.Add(7 * time.Second)
	writeIn(t, s, store.SystemOrg, func(tx store.Tx) error { return tx.PollDeviceCode(t.Context(), id, polled, 10*time.Second) })
	// A poll through another organisation changes nothing there (R21).
	writeIn(t, s, other, func(tx store.Tx) error { return tx.PollDeviceCode(t.Context(), id, t0.Add(time.Hour), time.Hour) })
	d, _ := deviceByUserCode(t, s, store.SystemOrg, "BCDF-GHJK")
	if d.LastPollAt == nil || !d.LastPollAt.Equal(polled) || d.Interval != 10*time.Second {
		t.Fatalf("after PollDeviceCode: last poll %v, interval %s", d.LastPollAt, d.Interval)
	}
}

func testDeviceCodeDecided(t *testing.T, s store.Admin) {
	users := addUsers(t, s, "ann@example.com")
	other := addOrg(t, s, "neighbour")
	approved := addDeviceCode(t, s, store.SystemOrg, newDeviceCode("laptop", "AAAA-AAAA"))
	denied := addDeviceCode(t, s, store.SystemOrg, newDeviceCode("desk", "BBBB-BBBB"))
	late := addDeviceCode(t, s, store.SystemOrg, newDeviceCode("late", "CCCC-CCCC"))

	decide := func(org, id int64, status store.DeviceStatus, at time.Time) bool {
		var ok bool
		writeIn(t, s, org, func(tx store.Tx) error {
			var err error
			ok, err = tx.DecideDeviceCode(t.Context(), id, users[0], status, at)
			return err
		})
		return ok
	}
	use := func(org, id int64) bool {
		var ok bool
		writeIn(t, s, org, func(tx store.Tx) error {
			var err error
			ok, err = tx.UseDeviceCode(t.Context(), id)
			return err
		})
		return ok
	}
	if decide(other, approved, store.DeviceApproved, t0) {
		t.Fatal("a request was approved through another organisation")
	}
	if !decide(store.SystemOrg, approved, store.DeviceApproved, t0.Add(time.Minute)) {
		t.Fatal("a pending request could not be approved")
	}
	if decide(store.SystemOrg, approved, store.DeviceDenied, t0.Add(time.Minute)) {
		t.Fatal("an approved request was decided again")
	}
	if !decide(store.SystemOrg, denied, store.DeviceDenied, t0.Add(time.Minute)) || use(store.SystemOrg, denied) {
		t.Fatal("a denied request: not denied, or used")
	}
	if decide(store.SystemOrg, late, store.DeviceApproved, t0.Add(10*time.Minute)) {
		t.Fatal("an expired request was approved")
	}
	if use(other, approved) {
		t.Fatal("a request was used through another organisation")
	}
	if !use(store.SystemOrg, approved) || use(store.SystemOrg, approved) {
		t.Fatal("an approved request was not used exactly once")
	}
	d, _ := deviceByUserCode(t, s, store.SystemOrg, "AAAA-AAAA")
	if d.Status != store.DeviceUsed || d.UserID != users[0] {
		t.Fatalf("after use: %+v", d)
	}
	if d, _ := deviceByUserCode(t, s, store.SystemOrg, "BBBB-BBBB"); d.Status != store.DeviceDenied || d.UserID != users[0] {
		t.Fatalf("after deny: %+v", d)
	}
}
