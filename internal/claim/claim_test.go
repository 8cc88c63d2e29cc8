package claim_test

import (
	"context"
	"testing"

	"github.com/secaudit/secaudit/internal/claim"
)

func TestUser(t *testing.T) {
	ctx := context.Background()
	if got := claim.User(ctx); got != "" {
		t.Fatalf("empty context: %q", got)
	}
	if claim.WithUser(ctx, "") != ctx {
		t.Fatal("an empty name must not wrap the context")
	}
	if got := claim.User(claim.WithUser(ctx, "alice")); got != "alice" {
		t.Fatalf("got %q", got)
	}
}
