package roster

import "context"

// clientKey carries the address of the client a request came from.
type clientKey struct{}

// WithClient returns ctx carrying the address of the client a request
// came from, which a server knows and the core records.
func WithClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

// ClientOf is the client address ctx carries, or "".
func ClientOf(ctx context.Context) string {
	addr, _ := ctx.Value(clientKey{}).(string)
	return addr
}
