package main

import (
	"flag"

	"github.com/secaudit/secaudit/internal/auditlog"
)

// filterFlags are the event filters tail and view share.
type filterFlags struct {
	event, user, addr, since, request string
}

func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.event, "event", "", "only this event, or a prefix ending in * (auth.login.*)")
	fs.StringVar(&f.user, "user", "", "only this user (user.id or user.name)")
	fs.StringVar(&f.addr, "addr", "", "only this client address, or a network (10.0.0.0/8)")
	fs.StringVar(&f.since, "since", "", "only events since a duration ago (15m) or an RFC 3339 time")
	fs.StringVar(&f.request, "request", "", "only one request's events (its audit.request_id)")
}

// filter builds the filter; the error is a usage error.
func (f *filterFlags) filter(inv invocation) (auditlog.Filter, error) {
	since, err := auditlog.ParseSince(f.since, inv.clock())
	if err != nil {
		return auditlog.Filter{}, err
	}
	flt := auditlog.Filter{Event: f.event, User: f.user, Addr: f.addr, Since: since, Request: f.request}
	return flt, flt.Compile()
}
