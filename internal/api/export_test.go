package api

import (
	"bytes"
	"io"
	"net/http"

	"github.com/roster-dev/roster/internal/wire"
)

func tryDecode[T any](r io.Reader) error {
	_, err := decode[T](r)
	return err
}

// decoders are the decoders of every request body in package wire.
var decoders = []func(io.Reader) error{
	tryDecode[wire.SignIn], tryDecode[wire.ChangePassword], tryDecode[wire.CreateUser],
	tryDecode[wire.UpdateUser], tryDecode[wire.Roles], tryDecode[wire.SetPassword],
	tryDecode[wire.Deactivate], tryDecode[wire.Link], tryDecode[wire.CreateRole],
	tryDecode[wire.UpdateRole], tryDecode[wire.CreatePermission], tryDecode[wire.SetSetting],
	tryDecode[wire.CreateInvitation], tryDecode[wire.AcceptInvitation], tryDecode[wire.RedeemReset],
	tryDecode[wire.CreateProject], tryDecode[wire.UpdateProject], tryDecode[wire.Archive],
	tryDecode[wire.Members], tryDecode[wire.CreateToken], tryDecode[wire.CreateOrg], tryDecode[wire.UpdateOrg],
	tryDecode[wire.DeleteOrg],
}

// DecodeAll runs every request body's decoder over b, capped at maxBody
// bytes as a request's is, and returns the status each outcome would
// answer with: 200 when the body decoded.
func DecodeAll(b []byte, maxBody int64) []int {
	out := make([]int, len(decoders))
	for i, dec := range decoders {
		out[i] = http.StatusOK
		if err := dec(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(b)), maxBody)); err != nil {
			out[i], _ = errorResponse(err)
		}
	}
	return out
}

// Patterns are the ServeMux patterns of every route New serves.
func Patterns() []string {
	s := &server{metrics: NewMetrics()}
	var out []string
	for _, rt := range s.routes() {
		out = append(out, rt.pattern)
	}
	return out
}

// The bounds and check of an Idempotency-Key, for the document's test.
const MinKeyLen, MaxKeyLen = minKeyLen, maxKeyLen

var CheckKey = checkKey
