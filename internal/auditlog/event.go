package auditlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
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

// text is a JSON value read as a string: a string as it is, anything
// else (a number an application gave as user.id, say) as its JSON text.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
		return nil
	}
	if string(b) != "null" {
		*t = text(b)
	}
	return nil
}

// number is a JSON number read as an int; anything else is 0.
type number int

func (n *number) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseFloat(string(bytes.Trim(b, `"`)), 64)
	if err == nil {
		*n = number(v)
	}
	return nil
}

type envelope struct {
	Timestamp      int64  `json:"timestamp"`
	SeverityText   text   `json:"severity_text"`
	SeverityNumber number `json:"severity_number"`
	EventName      text   `json:"event_name"`
	TraceID        text   `json:"trace_id"`
	Attributes     struct {
		EventType text             `json:"event_type"`
		UserID    text             `json:"user.id"`
		UserName  text             `json:"user.name"`
		Addr      text             `json:"client.address"`
		Peer      text             `json:"network.peer.address"`
		Method    text             `json:"http.request.method"`
		Route     text             `json:"http.route"`
		Path      text             `json:"url.path"`
		Status    number           `json:"http.response.status_code"`
		Outcome   text             `json:"audit.outcome"`
		RequestID text             `json:"audit.request_id"`
		Rule      text             `json:"security_rule.name"`
		XFF       *json.RawMessage `json:"http.request.header.x-forwarded-for"`
	} `json:"attributes"`
}

// ErrNotEvent is the error of a line that is a JSON value but not an
// event object (no timestamp and no event name).
var ErrNotEvent = errors.New("not an audit event (no timestamp, no event name)")

// Parse reads one JSONL line.
func Parse(line []byte) (Event, error) {
	var env envelope
	if err := json.Unmarshal(line, &env); err != nil {
		return Event{}, err
	}
	a := &env.Attributes
	e := Event{
		Time:           env.Timestamp,
		Severity:       string(env.SeverityText),
		SeverityNumber: int(env.SeverityNumber),
		Name:           string(env.EventName),
		UserID:         string(a.UserID),
		UserName:       string(a.UserName),
		Addr:           string(a.Addr),
		Peer:           string(a.Peer),
		Method:         string(a.Method),
		Route:          string(a.Route),
		Path:           string(a.Path),
		Status:         int(a.Status),
		Outcome:        string(a.Outcome),
		RequestID:      string(a.RequestID),
		TraceID:        string(env.TraceID),
		Rule:           string(a.Rule),
		Forwarded:      a.XFF != nil,
	}
	if e.Name == "" {
		e.Name = string(a.EventType)
	}
	if e.Time == 0 && e.Name == "" {
		return Event{}, ErrNotEvent
	}
	return e, nil
}
