package delivery

import (
	"errors"
	"fmt"
	"hash/maphash"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/semconv"
)

// Priority ranks records for eviction when the queue is full: the lowest
// go first, and a record displaces one of a lower priority, or of its own
// priority when the other's actor holds at least two more records of that
// priority than its own actor does. Between PriorityAudit and
// PrioritySecurity records, fairness between actors comes first: the
// actor holding the most of them loses its own before others do (see the
// package documentation, "A bounded queue, by priority").
type Priority uint8

const (
	// PriorityLow: sampled OK responses (http.response.success) and
	// application logs below WARN without an event name. The first to go.
	PriorityLow Priority = iota
	// PriorityRedirect: http.response.redirect.
	PriorityRedirect
	// PriorityAnonymous: client errors (http.response.client_error) of
	// requests without a user.id. A security signal, but one that any
	// client produces at will, as many as it likes: it must not push the
	// audit trail out.
	PriorityAnonymous
	// PriorityAudit: the audit trail that is not a security signal:
	// successful logins, logouts, model changes and reads, custom events.
	PriorityAudit
	// PrioritySecurity: security events (4xx and 5xx responses, failed
	// logins, authz.*, security.*), the pipeline's own audit.* events, and
	// any record at WARN or above. Lost only when the queue is full of
	// records at least as valuable.
	PrioritySecurity
)

// numPriorities counts the Priority values; strict records rank above
// them all in one more class.
const (
	numPriorities = int(PrioritySecurity) + 1
	classStrict   = numPriorities
	numClasses    = numPriorities + 1
)

// String returns "low", "redirect", "anonymous", "audit" or "security".
func (p Priority) String() string {
	switch p {
	case PriorityLow:
		return "low"
	case PriorityRedirect:
		return "redirect"
	case PriorityAnonymous:
		return "anonymous"
	case PriorityAudit:
		return "audit"
	case PrioritySecurity:
		return "security"
	}
	return fmt.Sprintf("Priority(%d)", uint8(p))
}

// DefaultPriority ranks a record by its event name, severity and whether
// it has a user.id: OK responses lowest, then redirects, then client
// errors without a user.id, then the audit trail, then security events
// (see the Priority values).
func DefaultPriority(r *sdklog.Record) Priority {
	p := basePriority(r)
	if p == PrioritySecurity && r.EventName() == semconv.EventHTTPResponseClientError {
		if _, user := actorOf(r); !user {
			return PriorityAnonymous
		}
	}
	return p
}

// basePriority is DefaultPriority without the actor.
func basePriority(r *sdklog.Record) Priority {
	name := r.EventName()
	switch name {
	case semconv.EventHTTPResponseSuccess:
		return PriorityLow
	case semconv.EventHTTPResponseRedirect:
		return PriorityRedirect
	}
	if semconv.IsSecurityEvent(name) || r.Severity() >= log.SeverityWarn1 || strings.HasPrefix(name, "audit.") {
		return PrioritySecurity
	}
	if name == "" {
		return PriorityLow
	}
	return PriorityAudit
}

// Actor hashes. A user and an address are hashed with different seeds so
// that a user id that looks like an address is another actor; the seeds
// are random per process, so a client cannot choose addresses whose hashes
// collide with another actor's.
var (
	userSeed    = maphash.MakeSeed()
	addressSeed = maphash.MakeSeed()
	// noActor is the actor of records without user.id, client.address or
	// network.peer.address (application logs, background jobs): they
	// share one.
	noActor = maphash.String(addressSeed, "")
)

// actorOf returns who r is about, as a hash: its user.id, or else its
// client.address, or else its network.peer.address; and whether it has a
// user.id. It allocates nothing.
func actorOf(r *sdklog.Record) (actor uint64, authenticated bool) {
	var user, client, peer attribute.Value
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		switch kv.Key {
		case semconv.UserIDKey:
			user = kv.Value
		case semconv.ClientAddressKey:
			client = kv.Value
		case semconv.NetworkPeerAddressKey:
			peer = kv.Value
		}
		return true
	})
	switch {
	case present(user):
		return hashValue(userSeed, user), true
	case present(client):
		return hashValue(addressSeed, client), false
	case present(peer):
		return hashValue(addressSeed, peer), false
	}
	return noActor, false
}

func present(v attribute.Value) bool {
	return v.Type() != attribute.EMPTY && (v.Type() != attribute.STRING || v.AsString() != "")
}

func hashValue(seed maphash.Seed, v attribute.Value) uint64 {
	switch v.Type() {
	case attribute.STRING:
		return maphash.String(seed, v.AsString())
	case attribute.INT64:
		return maphash.Comparable(seed, v.AsInt64())
	}
	// Other types are not ids anyone uses; they share one actor per type.
	return maphash.String(seed, v.Type().String())
}

// patterns matches event names: exact names, prefixes ("model.*") and "*".
type patterns struct {
	all      bool
	exact    []string
	prefixes []string
}

func compilePatterns(items []string) (patterns, error) {
	var p patterns
	for _, it := range items {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
			return patterns{}, errors.New("empty event pattern")
		case it == "*":
			p.all = true
		case strings.HasSuffix(it, "*"):
			prefix := strings.TrimSuffix(it, "*")
			if strings.Contains(prefix, "*") {
				return patterns{}, fmt.Errorf("event pattern %q: only a trailing * is supported", it)
			}
			p.prefixes = append(p.prefixes, prefix)
		case strings.Contains(it, "*"):
			return patterns{}, fmt.Errorf("event pattern %q: only a trailing * is supported", it)
		default:
			p.exact = append(p.exact, it)
		}
	}
	return p, nil
}

func (p *patterns) match(name string) bool {
	if p.all {
		return true
	}
	for _, e := range p.exact {
		if e == name {
			return true
		}
	}
	for _, pre := range p.prefixes {
		if strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}
