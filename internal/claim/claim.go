package claim

import "context"

type userKey struct{}

// WithUser returns ctx carrying name as the claimed user name. An empty
// name returns ctx unchanged.
func WithUser(ctx context.Context, name string) context.Context {
	if name == "" {
		return ctx
	}
	return context.WithValue(ctx, userKey{}, name)
}

// User returns the claimed user name ctx carries, or "".
func User(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	s, _ := ctx.Value(userKey{}).(string)
	return s
}
