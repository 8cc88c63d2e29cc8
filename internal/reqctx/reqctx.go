package reqctx

import (
	"context"
	"reflect"
)

// Key is the context key of a request's audit facts.
type Key struct{}

// Node is a context.Context that carries Val under [Key] and delegates
// everything else to its parent, as context.WithValue(parent, Key{}, Val)
// would. Its zero value is not usable: set Context to the parent.
type Node struct {
	context.Context // the parent
	Val             any
}

var _ context.Context = (*Node)(nil)

// Value returns n.Val for [Key] and asks the parent for any other key.
func (n *Node) Value(key any) any {
	if _, ok := key.(Key); ok {
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
