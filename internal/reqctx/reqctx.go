package reqctx

import (
	"context"
	"reflect"
)

// Key is the context key of a request's audit facts: a [Node] answers it
// with its facts completed (see [Filler]).
type Key struct{}

// RawKey is the context key of a request's audit facts for the calls that
// do not read the facts a [Filler] completes (naming the user, recording
// the route): a [Node] answers it with Val as it is. Only the carriers of
// facts answer it: a Node, or a context of the same contract (the HTTP
// middleware's per-request state is one).
type RawKey struct{}

// Filler completes the facts a Node carries the first time they are asked
// for: the HTTP middleware fills the request id and the client address
// only when an event or the application reads them, most requests never
// do. FillFacts must be safe for concurrent use, and return once the
// facts are complete.
type Filler interface {
	FillFacts()
}

// Node is a context.Context that carries Val under [Key] (and [RawKey])
// and delegates everything else to its parent, as
// context.WithValue(parent, Key{}, Val) would. Its zero value is not
// usable: set Context to the parent.
type Node struct {
	context.Context // the parent
	Val             any
	Fill            Filler // when not nil, called before Val is answered for Key
}

var _ context.Context = (*Node)(nil)

// Value returns n.Val for [Key] (once n.Fill, if any, has completed it) and
// for [RawKey], and asks the parent for any other key.
func (n *Node) Value(key any) any {
	switch key.(type) {
	case Key:
		if n.Fill != nil {
			n.Fill.FillFacts()
		}
		return n.Val
	case RawKey:
		return n.Val
	}
	return n.Context.Value(key)
}

// String describes n like the contexts of package context describe
// themselves, without printing the value.
func (n *Node) String() string {
	parent := reflect.TypeOf(n.Context).String()
	if s, ok := n.Context.(interface{ String() string }); ok {
		parent = s.String()
	}
	return parent + ".WithValue(reqctx.Key, <audit request>)"
}
