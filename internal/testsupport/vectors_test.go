package testsupport

import "testing"

// TestVectors: every seed vector has a unique id of a known family, and
// Vectors selects by family, in file order.
func TestVectors(t *testing.T) {
	type head struct {
		ID string `json:"id"`
	}
	want := map[string]int{"SCR": 10, "PRJ": 9, "IP": 17, "BODY": 20, "RULE": 11}
	all := Vectors[head](t, "SCR", "PRJ", "IP", "BODY", "RULE")
	seen := map[string]bool{}
	for _, v := range all {
		if seen[v.ID] {
			t.Errorf("id %s twice", v.ID)
		}
		seen[v.ID] = true
	}
	total := 0
	for family, n := range want {
		got := Vectors[head](t, family)
		if len(got) != n {
			t.Errorf("%d %s vectors, want %d", len(got), family, n)
		}
		total += n
	}
	if len(all) != total {
		t.Errorf("%d vectors in all, want %d (a vector of an unknown family?)", len(all), total)
	}
	if ip := Vectors[head](t, "IP"); ip[0].ID != "IP-01" {
		t.Errorf("first IP vector %s, want IP-01 (file order)", ip[0].ID)
	}
}
