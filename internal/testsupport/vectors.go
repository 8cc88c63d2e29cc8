package testsupport

import (
	"bytes"
	_ "embed" // the seed vectors
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// seedVectors is the reference's seed vectors, one JSON object a line,
// each with an "id" of the form FAMILY-NN (SCR scrubbing, PRJ projection
// and limits, IP client address, BODY body capture, RULE detection rules).
// It is the one copy in the repository: every package's tests read it
// through [Vectors].
//
//go:embed testdata/seed-vectors.jsonl
var seedVectors []byte

// Vectors decodes, in file order, every seed vector whose id's family (the
// part before the first '-') is one of families into a T. It fails t if a
// line is not JSON that decodes into T, or if no vector is of those
// families.
func Vectors[T any](t testing.TB, families ...string) []T {
	t.Helper()
	var out []T
	for i, line := range bytes.Split(seedVectors, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(line, &head); err != nil {
			t.Fatalf("seed-vectors.jsonl:%d: %v", i+1, err)
		}
		family, _, _ := strings.Cut(head.ID, "-")
		if !slices.Contains(families, family) {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("seed-vectors.jsonl:%d (%s): %v", i+1, head.ID, err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatalf("seed-vectors.jsonl: no vectors of %v", families)
	}
	return out
}
