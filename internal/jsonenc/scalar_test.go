package jsonenc

import (
	"encoding/base64"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		give float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "-0"}, {1.5, "1.5"}, {-2, "-2"},
		{1e-6, "0.000001"}, {1e-7, "1e-7"}, {1.5e-300, "1.5e-300"},
		{1e20, "100000000000000000000"}, {1e21, "1e+21"},
		{-1.2345678901234567e-6, "-0.0000012345678901234567"},
		{-math.MaxFloat64, "-1.7976931348623157e+308"},
	}
	for _, tt := range tests {
		if got := string(AppendFloat(nil, tt.give)); got != tt.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", tt.give, got, tt.want)
		}
	}
}

// TestMaxScalarSize: no scalar is written in more than MaxScalarSize
// bytes, and the longest float takes it all.
func TestMaxScalarSize(t *testing.T) {
	if n := len(AppendFloat(nil, -1.2345678901234567e-6)); n != MaxScalarSize {
		t.Errorf("the longest float is written in %d bytes, MaxScalarSize is %d", n, MaxScalarSize)
	}
	for _, s := range []string{strconv.FormatInt(math.MinInt64, 10), "false", "null"} {
		if len(s) > MaxScalarSize {
			t.Errorf("%s is longer than MaxScalarSize", s)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		f := math.Float64frombits(rnd.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if n := len(AppendFloat(nil, f)); n > MaxScalarSize {
			t.Fatalf("%v written in %d bytes", f, n)
		}
		if back, err := strconv.ParseFloat(string(AppendFloat(nil, f)), 64); err != nil || back != f {
			t.Fatalf("%v written as %s reads back as %v, %v", f, AppendFloat(nil, f), back, err)
		}
	}
}

func TestAppendBytes(t *testing.T) {
	for n := range 20 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 37)
		}
		out := AppendBytes(nil, b)
		if want := `"` + base64.StdEncoding.EncodeToString(b) + `"`; string(out) != want {
			t.Errorf("AppendBytes(%x) = %s, want %s", b, out, want)
		}
		if BytesSize(n) != len(out) {
			t.Errorf("BytesSize(%d) = %d, AppendBytes writes %d", n, BytesSize(n), len(out))
		}
	}
}

// TestAppendInt: AppendInt writes what strconv.AppendInt writes, at the
// edges of its paths, for every number below 100000 and for random numbers
// of every length.
func TestAppendInt(t *testing.T) {
	check := func(n int64) {
		t.Helper()
		if got, want := string(AppendInt([]byte("p:"), n)), "p:"+strconv.FormatInt(n, 10); got != want {
			t.Fatalf("AppendInt(%d) = %s, want %s", n, got, want)
		}
	}
	for _, n := range []int64{
		0, 1, -1, 9, 10, 99, 100, 1e9, 1e10 - 1, 1e10, 1e17, 1e18 - 1, 1e18, 1e18 + 1, 1e18 + 99,
		1767323045600000000, 1999999999999999999, 2e18, 9e18, math.MaxInt64, math.MaxInt64 - 1,
		math.MinInt64, -1e18, -1767323045600000000,
	} {
		check(n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range int64(100000) {
		check(n)
	}
	for range 100000 {
		check(rng.Int64() >> rng.IntN(64))
		check(-rng.Int64() >> rng.IntN(64))
		check(1e18 + rng.Int64N(math.MaxInt64-1e18))
	}
}
