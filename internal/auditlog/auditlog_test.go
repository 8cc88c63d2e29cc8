package auditlog

import (
	"context"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, line string
		want       Event
		wantErr    bool
	}{
		{"envelope", `{"timestamp":5,"severity_text":"WARNING","severity_number":13,"attributes":{"event_type":"auth.login.failed","user.id":"2","client.address":"192.0.2.1","http.response.status_code":401,"http.request.header.x-forwarded-for":["10.0.0.1"]},"event_name":"auth.login.failed","trace_id":"ab"}`,
			Event{Time: 5, Severity: "WARNING", SeverityNumber: 13, Name: "auth.login.failed", UserID: "2", Addr: "192.0.2.1", Status: 401, TraceID: "ab", Forwarded: true}, false},
		{"event_type when event_name is missing, a numeric user id", `{"timestamp":1,"attributes":{"event_type":"x.y","user.id":7}}`,
			Event{Time: 1, Name: "x.y", UserID: "7"}, false},
		{"not an event", `{"a":1}`, Event{}, true},
		{"not JSON", `nope`, Event{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.line))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Parse = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestReadLongAndUnendedLines(t *testing.T) {
	in := "a\n" + strings.Repeat("x", MaxLine+10) + "\nb\r\nc"
	var got []string
	err := Read(context.Background(), []string{"-"}, strings.NewReader(in), Options{}, func(l *Line) error {
		if l.Err != nil {
			got = append(got, l.Err.Error())
		} else {
			got = append(got, string(l.Data))
		}
		return nil
	})
	want := []string{"a", ErrLineTooLong.Error(), "b", "c"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Read: %q, %v; want %q", got, err, want)
	}
}

func TestScanRejectsBrokenLines(t *testing.T) {
	for _, line := range []string{
		`{"timestamp":1,"attributes":{"x":tru e}}`,
		`{"timestamp":1,"attributes":{"x":"unterminated}}`,
		`{"timestamp":1,"attributes":{"x":[1,2}`,
		`{"timestamp":1} trailing`,
		`{"timestamp":1,"body":<b>}`,
		`{"timestamp" 1}`,
		``,
	} {
		var f Fields
		if err := Scan([]byte(line), &f); err == nil {
			t.Errorf("Scan(%q) accepted a broken line", line)
		}
	}
	var f Fields
	if err := Scan([]byte(`{"timestamp":1,"attributes":{"event_type":"a.b","user.id":"x\"y","n":-1.5e3,"ok":true,"z":null}}`), &f); err != nil || string(f.UserID) != `x"y` || string(f.Name) != "a.b" {
		t.Errorf("Scan: %v, %+v", err, f)
	}
}
