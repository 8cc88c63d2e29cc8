package httpstatus

import "testing"

func TestSet(t *testing.T) {
	var s Set
	if !s.Empty() {
		t.Fatal("zero Set not empty")
	}
	for _, code := range []int{-1, 640, 1000} {
		s.Add(code)
	}
	if !s.Empty() {
		t.Fatal("codes outside 0-639 were added")
	}
	in := []int{0, 63, 64, 100, 404, 599, 639}
	for _, code := range in {
		s.Add(code)
	}
	if s.Empty() {
		t.Fatal("Set with codes is empty")
	}
	tests := []struct {
		code int64
		want bool
	}{
		{0, true}, {63, true}, {64, true}, {65, false}, {100, true}, {403, false}, {404, true},
		{599, true}, {639, true}, {640, false}, {-1, false}, {1 << 40, false},
	}
	for _, tt := range tests {
		if got := s.Has(tt.code); got != tt.want {
			t.Errorf("Has(%d) = %v, want %v", tt.code, got, tt.want)
		}
	}
}
