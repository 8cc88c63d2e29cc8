package routes

import (
	"sync"
	"sync/atomic"
)

// MaxEntries bounds a Cache: a router has as many patterns as routes,
// far fewer than this; past it, Get makes a value per call.
const MaxEntries = 4096

// Cache maps route patterns to values made once per pattern. Reads take
// no lock and allocate nothing; adding copies the map, which happens once
// per pattern. The zero Cache is empty and ready; it is safe for
// concurrent use.
type Cache[T any] struct {
	mu sync.Mutex // serialises additions
	m  atomic.Pointer[map[string]*T]
}

// Load returns the value kept for key, if any.
func (c *Cache[T]) Load(key string) (*T, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[key]
		return v, ok
	}
	return nil, false
}

// Get returns the value kept for key, making it with newValue(key) and keeping
// it the first time. newValue must return a value that depends on key only.
func (c *Cache[T]) Get(key string, newValue func(string) *T) *T {
	if v, ok := c.Load(key); ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[key]; ok {
			return v
		}
		if len(*old) >= MaxEntries {
			return newValue(key)
		}
	}
	next := newValue(key)
	m := map[string]*T{key: next}
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	c.m.Store(&m)
	return next
}

// Len returns the number of values kept.
func (c *Cache[T]) Len() int {
	if m := c.m.Load(); m != nil {
		return len(*m)
	}
	return 0
}
