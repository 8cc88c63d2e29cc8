package integrity_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/integrity"
)

func TestParseFields(t *testing.T) {
	h := integrity.HashLine([]byte("x\n"))
	h2 := integrity.HashLine([]byte("y\n"))
	good := string(integrity.AppendFields([]byte(`{"event_name":"a"`), 42, h)) + "}"
	tests := []struct {
		name string
		line string
		want integrity.Fields
		ok   bool
	}{
		{"line", good, integrity.Fields{Seq: 42, Prev: h}, true},
		{"with newline", good + "\n", integrity.Fields{Seq: 42, Prev: h}, true},
		{"genesis", string(integrity.AppendFields([]byte("{"), 1, integrity.Genesis)) + "}", integrity.Fields{Seq: 1}, true},
		{"marker", string(integrity.AppendMarker(nil, 5, integrity.ReasonTornTail, 9, h2, 7, h)), integrity.Fields{Seq: 7, Prev: h, Marker: true, Resume: h2}, true},
		{"marker without resume", strings.Replace(string(integrity.AppendMarker(nil, 5, integrity.ReasonTornTail, 9, h2, 7, h)), `,"audit.chain.resume_hash":"`+h2.String()+`"`, "", 1), integrity.Fields{Seq: 7, Prev: h}, true},
		{"no fields", `{"event_name":"a"}`, integrity.Fields{}, false},
		{"upper hex", strings.ToUpper(good[:len(good)-66]) + strings.ToUpper(good[len(good)-66:]), integrity.Fields{}, false},
		{"short hash", strings.Replace(good, h.String(), h.String()[2:], 1), integrity.Fields{}, false},
		{"leading zero seq", strings.Replace(good, `"seq":42`, `"seq":042`, 1), integrity.Fields{}, false},
		{"no seq", strings.Replace(good, `"seq":42,`, ``, 1), integrity.Fields{}, false},
		{"no brace", good[:len(good)-1], integrity.Fields{}, false},
		{"torn", good[:len(good)/2], integrity.Fields{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := integrity.ParseFields([]byte(tt.line))
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("ParseFields = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestMarkerIsAnEnvelope: the restart marker is a valid JSON envelope with
// the documented attributes.
func TestMarkerIsAnEnvelope(t *testing.T) {
	line := integrity.AppendMarker(nil, 1767225600000000000, integrity.ReasonTornTail, 37, integrity.HashLine([]byte("a\n")), 8, integrity.Genesis)
	var env struct {
		EventName  string         `json:"event_name"`
		Attributes map[string]any `json:"attributes"`
		Seq        uint64         `json:"seq"`
		PrevHash   string         `json:"prev_hash"`
	}
	if err := json.Unmarshal(line, &env); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if env.EventName != "audit.chain.restart" || env.Attributes["audit.chain.reason"] != "torn_tail" ||
		env.Attributes["audit.chain.torn_bytes"] != 37.0 || env.Attributes["audit.chain.resume_hash"] != integrity.HashLine([]byte("a\n")).String() || env.Seq != 8 || env.PrevHash != strings.Repeat("0", 64) {
		t.Errorf("marker %s", line)
	}
	if line[len(line)-1] != '\n' || strings.Count(string(line), "\n") != 1 {
		t.Errorf("marker is not one line: %q", line)
	}
}

func TestParseHash(t *testing.T) {
	h := integrity.HashLine([]byte("a"))
	if got, ok := integrity.ParseHash(h.String()); !ok || got != h {
		t.Errorf("ParseHash(%s) = %v, %v", h, got, ok)
	}
	for _, bad := range []string{"", "00", strings.Repeat("G", 64), strings.Repeat("A", 64)} {
		if _, ok := integrity.ParseHash(bad); ok {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}
