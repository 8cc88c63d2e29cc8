package auditlog

import (
	"encoding/json"
	"errors"
	"strings"
)

// Event is what the command line shows of one JSONL line.
type Event struct {
	Time           int64  // timestamp, Unix nanoseconds
	Severity       string // severity_text
	SeverityNumber int    // severity_number
	Name           string // event_name (attributes.event_type when absent)
	UserID         string // user.id
	UserName       string // user.name (only when usernames are on)
	Addr           string // client.address
	Peer           string // network.peer.address
	Method         string // http.request.method
	Route          string // http.route
	Path           string // url.path
	Status         int    // http.response.status_code, 0 when absent
	Outcome        string // audit.outcome
	RequestID      string // audit.request_id
	TraceID        string // trace_id
	Rule           string // security_rule.name (alerts)
	// Forwarded reports an attribute that carries an X-Forwarded-For
	// header (http.request.header.x-forwarded-for, set by an enricher).
	Forwarded bool
}

// User is the user name when the event has one, else the user id.
func (e *Event) User() string {
	if e.UserName != "" {
		return e.UserName
	}
	return e.UserID
}

// Where is the route when the event has one, else the path.
func (e *Event) Where() string {
	if e.Route != "" {
		return e.Route
	}
	return e.Path
}

// Class is the event's first dotted segment: http, auth, authz, model,
// security, audit.
func (e *Event) Class() string { return Class(e.Name) }

// Class is the first dotted segment of an event name.
func Class(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	if name == "" {
		return "other"
	}
	return name
}

// ErrNotEvent is the error of a line that is a JSON value but not an
// event object (no timestamp and no event name).
var ErrNotEvent = errors.New("not an audit event (no timestamp, no event name)")

// Parse reads one JSONL line: a valid JSON object with a timestamp or an
// event name.
func Parse(line []byte) (Event, error) {
	var f Fields
	if err := ScanValid(line, &f); err != nil {
		return Event{}, err
	}
	return Event{
		Time:           f.Time,
		Severity:       string(f.Severity),
		SeverityNumber: f.SeverityNumber,
		Name:           string(f.Name),
		UserID:         string(f.UserID),
		UserName:       string(f.UserName),
		Addr:           string(f.Addr),
		Peer:           string(f.Peer),
		Method:         string(f.Method),
		Route:          string(f.Route),
		Path:           string(f.Path),
		Status:         f.Status,
		Outcome:        string(f.Outcome),
		RequestID:      string(f.RequestID),
		TraceID:        string(f.TraceID),
		Rule:           string(f.Rule),
		Forwarded:      f.Forwarded,
	}, nil
}

// ScanValid is [Scan] after checking that line is valid JSON.
func ScanValid(line []byte, f *Fields) error {
	if !json.Valid(line) {
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			return err
		}
		return errSyntax
	}
	return Scan(line, f)
}
