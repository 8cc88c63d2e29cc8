package auditlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Fields are an event's facts as byte slices into its line (valid while
// the line is), read without decoding the whole line: what the viewer's
// index reads a million times. A string with escapes is unescaped into
// a new slice; a value that is not a string is its JSON text.
type Fields struct {
	Time           int64
	SeverityNumber int
	Status         int
	Forwarded      bool
	Severity       []byte
	Name           []byte // event_name, else attributes.event_type
	UserID         []byte
	UserName       []byte
	Addr           []byte
	Peer           []byte
	Method         []byte
	Route          []byte
	Path           []byte
	Outcome        []byte
	RequestID      []byte
	TraceID        []byte
	Rule           []byte
}

var errSyntax = errors.New("invalid JSON")

// Scan reads line's fields into f. It checks the structure it walks
// (objects, strings, the characters of numbers and literals) but not
// every value: [ScanValid] checks that the whole line is valid JSON.
func Scan(line []byte, f *Fields) error {
	*f = Fields{}
	s := scanner{b: line}
	var eventType []byte
	hasTime := false
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "timestamp":
			n, err := s.int()
			f.Time, hasTime = n, true
			return err
		case "severity_text":
			return s.text(&f.Severity)
		case "severity_number":
			n, err := s.int()
			f.SeverityNumber = int(n)
			return err
		case "event_name":
			return s.text(&f.Name)
		case "trace_id":
			return s.text(&f.TraceID)
		case "attributes":
			return s.object(func(key []byte) error {
				switch string(key) {
				case "event_type":
					return s.text(&eventType)
				case "user.id":
					return s.text(&f.UserID)
				case "user.name":
					return s.text(&f.UserName)
				case "client.address":
					return s.text(&f.Addr)
				case "network.peer.address":
					return s.text(&f.Peer)
				case "http.request.method":
					return s.text(&f.Method)
				case "http.route":
					return s.text(&f.Route)
				case "url.path":
					return s.text(&f.Path)
				case "http.response.status_code":
					n, err := s.int()
					f.Status = int(n)
					return err
				case "audit.outcome":
					return s.text(&f.Outcome)
				case "audit.request_id":
					return s.text(&f.RequestID)
				case "security_rule.name":
					return s.text(&f.Rule)
				case "http.request.header.x-forwarded-for":
					f.Forwarded = true
				}
				return s.skip()
			})
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	if s.ws(); s.i != len(s.b) {
		return errSyntax
	}
	if len(f.Name) == 0 {
		f.Name = eventType
	}
	if !hasTime && len(f.Name) == 0 {
		return ErrNotEvent
	}
	return nil
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object walks an object, calling member with each key, positioned at
// the value, which member must consume.
func (s *scanner) object(member func(key []byte) error) error {
	if s.peek() != '{' {
		return errSyntax
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, _, err := s.str()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return errSyntax
		}
		s.i++
		s.ws()
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// str reads a string; raw is its content between the quotes.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	if s.peek() != '"' {
		return nil, false, errSyntax
	}
	start := s.i + 1
	for i := start; ; {
		j := bytes.IndexByte(s.b[i:], '"')
		if j < 0 {
			return nil, false, errSyntax
		}
		j += i
		k := j // an odd run of backslashes before the quote escapes it
		for k > start && s.b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			s.i = j + 1
			return s.b[start:j], bytes.IndexByte(s.b[start:j], '\\') >= 0, nil
		}
		i = j + 1
	}
}

// text reads a value as text: a string's content (unescaped), null as
// nothing, anything else as its JSON text.
func (s *scanner) text(dst *[]byte) error {
	switch s.peek() {
	case '"':
		start := s.i
		raw, escaped, err := s.str()
		if err != nil {
			return err
		}
		if escaped {
			var v string
			if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
				return err
			}
			raw = []byte(v)
		}
		*dst = raw
		return nil
	case 'n':
		return s.skip()
	}
	start := s.i
	if err := s.skip(); err != nil {
		return err
	}
	*dst = s.b[start:s.i]
	return nil
}

// int reads a number as an int64 (0 for anything else).
func (s *scanner) int() (int64, error) {
	s.ws()
	start := s.i
	if err := s.skip(); err != nil {
		return 0, err
	}
	tok := s.b[start:s.i]
	if n, err := strconv.ParseInt(string(tok), 10, 64); err == nil {
		return n, nil
	}
	if f, err := strconv.ParseFloat(string(tok), 64); err == nil {
		return int64(f), nil
	}
	return 0, nil
}

// skip passes over one value.
func (s *scanner) skip() error {
	switch s.peek() {
	case '"':
		_, _, err := s.str()
		return err
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, _, err := s.str(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return errSyntax
	case 0:
		return errSyntax
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if s.i == start {
				return errSyntax
			}
			return nil
		case !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E'):
			return errSyntax // a number, true, false or null only
		}
		s.i++
	}
	if s.i == start {
		return errSyntax
	}
	return nil
}
