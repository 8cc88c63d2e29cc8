// Package reqctx holds the context key under which a request's audit facts
// (a *secaudit.Request) travel, and [Node], a context that carries them
// and can live inside a larger allocation: the gRPC interceptors embed it
// in their per-call state, so that putting the facts into the context
// costs no allocation of its own, where context.WithValue costs one on
// every request. The HTTP middleware's per-request state goes one step
// further: it is the context itself, answering [Key] and [RawKey] as a
// Node does. A Node may also complete the facts the first time they are
// read ([Filler]): the middleware makes the request id and the client
// address only for a request that somebody asks about; [RawKey] reads the
// facts without completing them.
package reqctx
