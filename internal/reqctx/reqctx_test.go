package reqctx_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secaudit/secaudit/internal/reqctx"
	"github.com/secaudit/secaudit/internal/testsupport"
)

type otherKey struct{}

// TestNodeIsAContext: a Node answers its own key, delegates every other
// key and the parent's deadline, cancellation and cause, and contexts
// derived from it are cancelled with the parent without a goroutine of
// their own (the context package finds the parent's cancelCtx through it).
func TestNodeIsAContext(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	withDeadline, stopDeadline := context.WithDeadline(context.WithValue(context.Background(), otherKey{}, "other"), deadline)
	defer stopDeadline()
	parent, cancel := context.WithCancelCause(withDeadline)
	val := new(int)
	n := &reqctx.Node{Context: parent, Val: val}

	if got := n.Value(reqctx.Key{}); got != val {
		t.Errorf("Value(Key) = %v, want %v", got, val)
	}
	if got := n.Value(otherKey{}); got != "other" {
		t.Errorf("Value(otherKey) = %v, want the parent's value", got)
	}
	if d, ok := n.Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("Deadline() = %v, %v; want the parent's", d, ok)
	}
	if !strings.Contains(n.String(), "reqctx.Key") || strings.Contains(n.String(), "0x") {
		t.Errorf("String() = %q: want the key named and the value left out", n.String())
	}

	goroutines := testsupport.Snapshot()
	child, stop := context.WithCancel(n)
	defer stop()
	goroutines.Check(t) // deriving a context from the node starts none

	cancel(errors.New("test over"))
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a context derived from the node was not cancelled with the parent")
	}
	if !errors.Is(n.Err(), context.Canceled) || context.Cause(child).Error() != "test over" {
		t.Errorf("Err() = %v, Cause(child) = %v; want the parent's", n.Err(), context.Cause(child))
	}
	// The innermost node wins, as with context.WithValue.
	inner := &reqctx.Node{Context: n, Val: "inner"}
	if got := inner.Value(reqctx.Key{}); got != "inner" {
		t.Errorf("nested Value(Key) = %v, want the inner node's", got)
	}
}

// countingFiller counts the times it is asked to complete the facts.
type countingFiller struct{ calls int }

func (f *countingFiller) FillFacts() { f.calls++ }

// TestNodeFillsForKeyOnly: Value(Key) completes the facts before answering,
// Value(RawKey) answers without completing them, and other keys go to the
// parent without either.
func TestNodeFillsForKeyOnly(t *testing.T) {
	fill := &countingFiller{}
	val := new(int)
	n := &reqctx.Node{Context: context.WithValue(context.Background(), otherKey{}, "other"), Val: val, Fill: fill}
	tests := []struct {
		key   any
		want  any
		calls int
	}{
		{reqctx.RawKey{}, val, 0},
		{otherKey{}, "other", 0},
		{reqctx.Key{}, val, 1},
		{reqctx.Key{}, val, 2}, // the Filler itself makes repeated calls cheap
	}
	for _, tt := range tests {
		if got := n.Value(tt.key); got != tt.want {
			t.Errorf("Value(%T) = %v, want %v", tt.key, got, tt.want)
		}
		if fill.calls != tt.calls {
			t.Errorf("after Value(%T): %d fills, want %d", tt.key, fill.calls, tt.calls)
		}
	}
	if got := (&reqctx.Node{Context: context.Background(), Val: val}).Value(reqctx.Key{}); got != val {
		t.Errorf("a Node without a Filler answers %v", got)
	}
}
