package routes

import (
	"runtime"
	"testing"
	"time"
)

type router struct{ name string }

// TestPerOwnerKeepsOneCachePerOwner: each owner has its own cache, the
// same one at every call, and the last owner's is found again.
func TestPerOwnerKeepsOneCachePerOwner(t *testing.T) {
	var p PerOwner[router, Route]
	a, b := &router{"a"}, &router{"b"}
	ca, cb := p.Of(a), p.Of(b)
	if ca == cb {
		t.Fatal("two owners share a cache")
	}
	if p.Of(a) != ca || p.Of(b) != cb || p.Of(b) != cb {
		t.Fatal("an owner's cache changed between calls")
	}
	ca.Get("/a", func(k string) *Route { return &Route{Path: k} })
	if r, ok := p.Of(a).Load("/a"); !ok || r.Route() != "/a" {
		t.Fatalf("Load = %v, %v; want /a", r, ok)
	}
	if _, ok := p.Of(b).Load("/a"); ok {
		t.Fatal("b's cache holds a's route")
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}

// TestPerOwnerDropsUnusedOwners: an owner no longer used is collected and
// its cache dropped.
func TestPerOwnerDropsUnusedOwners(t *testing.T) {
	var p PerOwner[router, Route]
	for range 10 {
		p.Of(&router{"gone"})
	}
	p.last.Store(nil) // the last owner is otherwise reachable from here
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		n := 0
		p.caches.Range(func(any, any) bool { n++; return true })
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d caches of unused owners kept", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPerOwnerOfAllocatesNothing(t *testing.T) {
	var p PerOwner[router, Route]
	o := &router{"one"}
	p.Of(o)
	if n := testing.AllocsPerRun(100, func() { p.Of(o) }); n != 0 {
		t.Fatalf("Of allocates %v times for the last owner, want 0", n)
	}
}
