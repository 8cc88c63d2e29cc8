package routes_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/secaudit/secaudit/internal/routes"
	"github.com/secaudit/secaudit/internal/testsupport"
)

type entry struct{ route string }

func newEntry(k string) *entry { return &entry{route: k} }

// TestCacheKeepsOneValuePerKey: the same key gives the same value, from
// many goroutines at once; past MaxEntries values are made per call and
// not kept.
func TestCacheKeepsOneValuePerKey(t *testing.T) {
	var c routes.Cache[entry]
	var wg sync.WaitGroup
	got := make([]*entry, 8)
	for i := range got {
		wg.Go(func() { got[i] = c.Get("/accounts/{id}", newEntry) })
	}
	wg.Wait()
	for _, e := range got {
		if e != got[0] || e.route != "/accounts/{id}" {
			t.Fatalf("values %v, want one", got)
		}
	}
	for i := c.Len(); i < routes.MaxEntries; i++ {
		c.Get(strconv.Itoa(i), newEntry)
	}
	a, b := c.Get("/one/more", newEntry), c.Get("/one/more", newEntry)
	if a == b || a.route != "/one/more" || c.Len() != routes.MaxEntries {
		t.Fatalf("past the bound: kept %d, same value %v", c.Len(), a == b)
	}
	if c.Get("/accounts/{id}", newEntry) != got[0] {
		t.Fatal("a kept value was replaced")
	}
}

// TestCacheGetAllocAllocatesNothing: reading a kept value allocates nothing.
func TestCacheGetAllocAllocatesNothing(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	var c routes.Cache[entry]
	key := string([]byte("/accounts/{id}"))
	c.Get(key, newEntry)
	if n := testing.AllocsPerRun(100, func() { c.Get(key, newEntry) }); n != 0 {
		t.Fatalf("%v allocations per Get", n)
	}
}
