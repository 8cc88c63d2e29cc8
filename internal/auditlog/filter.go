package auditlog

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Filter selects events; the zero Filter selects every event. Fields
// combine with "and".
type Filter struct {
	// Event is an event name, or a prefix followed by "*"
	// ("auth.login.*", "security.*").
	Event string
	// User is a user id or user name, matched exactly.
	User string
	// Addr is a client address, or a network in CIDR notation.
	Addr string
	// Since keeps events at or after this time (Unix nanoseconds); 0: all.
	Since int64
	// Request is an audit.request_id: one request's events.
	Request string

	prefix    netip.Prefix
	hasPrefix bool
}

// Compile checks the filter's values and prepares it; Match needs it
// only for a CIDR in Addr.
func (f *Filter) Compile() error {
	f.hasPrefix = false
	if strings.Contains(f.Addr, "/") {
		p, err := netip.ParsePrefix(f.Addr)
		if err != nil {
			return fmt.Errorf("-addr %q: want an address or a network (CIDR)", f.Addr)
		}
		f.prefix, f.hasPrefix = p.Masked(), true
	}
	if strings.Count(f.Event, "*") > 1 || (strings.Contains(f.Event, "*") && !strings.HasSuffix(f.Event, "*")) {
		return fmt.Errorf("-event %q: want an event name or a prefix ending in *", f.Event)
	}
	return nil
}

// Zero reports whether the filter selects every event.
func (f *Filter) Zero() bool {
	return f.Event == "" && f.User == "" && f.Addr == "" && f.Since == 0 && f.Request == ""
}

// MatchEvent reports whether an event name passes the Event field.
func (f *Filter) MatchEvent(name string) bool {
	if f.Event == "" {
		return true
	}
	if p, ok := strings.CutSuffix(f.Event, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return name == f.Event
}

// MatchAddr reports whether a client address passes the Addr field.
func (f *Filter) MatchAddr(addr string) bool {
	if f.Addr == "" {
		return true
	}
	if f.hasPrefix {
		a, err := netip.ParseAddr(addr)
		return err == nil && f.prefix.Contains(a.Unmap())
	}
	return addr == f.Addr
}

// Match reports whether e passes the filter.
func (f *Filter) Match(e *Event) bool {
	return f.MatchEvent(e.Name) &&
		(f.User == "" || e.UserID == f.User || e.UserName == f.User) &&
		f.MatchAddr(e.Addr) &&
		(f.Since == 0 || e.Time >= f.Since) &&
		(f.Request == "" || e.RequestID == f.Request)
}

// ParseSince reads a -since value: a duration before now ("15m", "2h")
// or an RFC 3339 time. It returns Unix nanoseconds.
func ParseSince(s string, now time.Time) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UnixNano(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixNano(), nil
	}
	return 0, fmt.Errorf("-since %q: want a duration (15m, 2h) or an RFC 3339 time", s)
}
