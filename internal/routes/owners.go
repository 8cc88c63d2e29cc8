package routes

import (
	"runtime"
	"sync"
	"sync/atomic"
	"weak"
)

// Route is a route source (secaudit.RouteSource) for a route pattern that
// a router may also give to requests it did not route (echo gives its
// RouteNotFound handlers a path): Unrouted marks those.
type Route struct {
	Path     string
	Unrouted bool
}

// Route returns the pattern.
func (r *Route) Route() string { return r.Path }

// PerOwner keeps a Cache for each owner (a router instance), under a weak
// pointer to it: an owner no longer used is not kept alive, and its cache
// is dropped with it. The owner looked up last is remembered, so that a
// service with one router pays neither a weak pointer nor a map lookup per
// request. The zero PerOwner is ready; it is safe for concurrent use.
type PerOwner[O, T any] struct {
	caches sync.Map // weak.Pointer[O] → *Cache[T]
	last   atomic.Pointer[owned[O, T]]
}

type owned[O, T any] struct {
	owner weak.Pointer[O]
	cache *Cache[T]
}

// Of returns o's cache.
func (p *PerOwner[O, T]) Of(o *O) *Cache[T] {
	if l := p.last.Load(); l != nil && l.owner.Value() == o {
		return l.cache
	}
	key := weak.Make(o)
	cache, ok := p.caches.Load(key)
	if !ok {
		var loaded bool
		if cache, loaded = p.caches.LoadOrStore(key, new(Cache[T])); !loaded {
			runtime.AddCleanup(o, func(k weak.Pointer[O]) { p.caches.Delete(k) }, key)
		}
	}
	l := &owned[O, T]{owner: key, cache: cache.(*Cache[T])}
	p.last.Store(l)
	return l.cache
}
