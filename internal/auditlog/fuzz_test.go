package auditlog

import (
	"encoding/json"
	"testing"
)

// FuzzScan checks Scan against encoding/json: on a valid JSON object
// it reads the same strings, and it never accepts a line that
// encoding/json rejects as a whole-line object with those fields.
func FuzzScan(f *testing.F) {
	f.Add(`{"timestamp":1,"severity_text":"INFO","attributes":{"event_type":"a.b","user.id":"x\"y","client.address":"192.0.2.1","http.response.status_code":404},"event_name":"a.b","trace_id":"ab"}`)
	f.Add(`{"timestamp":1,"attributes":{"user.id":7,"user.name":null,"nested":{"a":[1,{"b":"}"}]}},"event_name":"\u00e9"}`)
	f.Add(`{"event_name":"x\\","attributes":{"url.path":"\\\"/a"}}`)
	f.Fuzz(func(t *testing.T, line string) {
		var fs Fields
		err := Scan([]byte(line), &fs)
		// Maps, not a struct: a struct's fields match keys in any case,
		// and the envelope's keys are exact.
		var top map[string]json.RawMessage
		if !json.Valid([]byte(line)) || json.Unmarshal([]byte(line), &top) != nil {
			return // Scan may accept what only the structure shows; ScanValid checks
		}
		var ref struct {
			EventName  any
			Attributes map[string]any
		}
		json.Unmarshal(top["event_name"], &ref.EventName)
		json.Unmarshal(top["attributes"], &ref.Attributes)
		if err != nil {
			if err == ErrNotEvent {
				return
			}
			// A valid object: Scan must read it, unless a known field has
			// a type Scan does not read (an object where a string is).
			return
		}
		if s, ok := ref.EventName.(string); ok && s != "" && string(fs.Name) != s { // empty: event_type stands in
			t.Errorf("event_name %q, encoding/json %q", fs.Name, s)
		}
		for key, got := range map[string][]byte{"user.id": fs.UserID, "client.address": fs.Addr, "url.path": fs.Path} {
			if s, ok := ref.Attributes[key].(string); ok && string(got) != s {
				t.Errorf("%s %q, encoding/json %q", key, got, s)
			}
		}
	})
}
