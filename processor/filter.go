package processor

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/secaudit/secaudit/internal/auditscope"
	"github.com/secaudit/secaudit/internal/httpstatus"
	"github.com/secaudit/secaudit/semconv"
)

// FilterFunc decides whether a record is kept: true keeps it. It must not
// modify r or keep it after returning, and must be safe for concurrent use.
// It sees the record after scrubbing when used in a [Chain].
type FilterFunc func(ctx context.Context, r *sdklog.Record) bool

// Filter is an sdk/log processor that wraps the downstream processor and
// passes on only the records it keeps: a processor cannot veto the ones
// registered after it, so filtering must wrap them. It drops
//   - http.response.* events whose path matches an ignored path pattern:
//     the escaped path, as the request wrote it (the path of url.full),
//     like the middleware's ignore patterns, so that an encoded slash
//     cannot make /x/1%2F..%2Fhealthz look like /healthz; url.path when
//     the record has no url.full,
//   - http.response.* events whose http.response.status_code is ignored,
//   - any record a [FilterFunc] rejects (a filter that panics keeps the
//     record, and the panic is counted).
//
// Every drop is counted by reason, and drops of security events separately
// ([Stats.FilteredSecurity]). Enabled asks the downstream processor: path,
// status and function filters need the whole record, so they decide in
// OnEmit. It is safe for concurrent use. A Filter with a nil next drops
// everything it receives (there is nowhere to pass it).
type Filter struct {
	next     sdklog.Processor
	paths    []*regexp.Regexp
	statuses httpstatus.Set
	funcs    []FilterFunc
	// byResponse: paths or statuses are ignored, so http.response.*
	// records are looked at.
	byResponse bool

	stats counters
}

var _ sdklog.Processor = (*Filter)(nil)

// NewFilter returns a Filter in front of next, configured by opts
// (WithIgnorePaths, WithIgnoreStatusCodes, WithFilterFunc; option >
// SECAUDIT_IGNORE_PATHS / SECAUDIT_IGNORE_STATUS_CODES > none).
func NewFilter(next sdklog.Processor, opts ...FilterOption) (*Filter, error) {
	return newFilter(next, newConfig(opts))
}

func newFilter(next sdklog.Processor, c config) (*Filter, error) {
	paths, errPaths := auditscope.IgnorePaths(c.ignorePaths, c.noEnv)
	statuses, errStatus := auditscope.IgnoreStatusCodes(c.ignoreStatus, c.noEnv)
	if err := errors.Join(errPaths, errStatus); err != nil {
		return nil, err
	}
	return &Filter{next: next, paths: paths, statuses: statuses, funcs: c.filters,
		byResponse: len(paths) > 0 || !statuses.Empty()}, nil
}

// Enabled reports whether the downstream processor wants such a record.
func (f *Filter) Enabled(ctx context.Context, p sdklog.EnabledParameters) bool {
	return f != nil && f.next != nil && f.next.Enabled(ctx, p)
}

// OnEmit passes r to the downstream processor unless a filter drops it.
func (f *Filter) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if f == nil || f.next == nil || r == nil {
		return nil
	}
	if (f.byResponse || len(f.funcs) > 0) && !f.keep(ctx, r) {
		return nil
	}
	return f.next.OnEmit(ctx, r)
}

// Shutdown shuts the downstream processor down.
func (f *Filter) Shutdown(ctx context.Context) error {
	if f == nil || f.next == nil {
		return nil
	}
	return f.next.Shutdown(ctx)
}

// ForceFlush flushes the downstream processor.
func (f *Filter) ForceFlush(ctx context.Context) error {
	if f == nil || f.next == nil {
		return nil
	}
	return f.next.ForceFlush(ctx)
}

// Stats returns the Filter's counters.
func (f *Filter) Stats() Stats {
	if f == nil {
		return Stats{}
	}
	return f.stats.snapshot()
}

const httpResponsePrefix = "http.response."

func (f *Filter) keep(ctx context.Context, r *sdklog.Record) bool {
	if f.byResponse && strings.HasPrefix(r.EventName(), httpResponsePrefix) {
		var path, full string
		status := int64(-1)
		// Walk them all: with duplicate keys the last one wins, as in the
		// SDK's own de-duplication.
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			switch kv.Key {
			case semconv.URLPathKey:
				if kv.Value.Type() == attribute.STRING {
					path = kv.Value.AsString()
				}
			case semconv.URLFullKey:
				if kv.Value.Type() == attribute.STRING {
					full = kv.Value.AsString()
				}
			case semconv.HTTPResponseStatusCodeKey:
				if kv.Value.Type() == attribute.INT64 {
					status = kv.Value.AsInt64()
				}
			}
			return true
		})
		if f.statuses.Has(status) {
			f.dropped(r, &f.stats.filteredStatus)
			return false
		}
		if p, ok := pathOfURL(full); ok {
			path = p
		}
		for _, re := range f.paths {
			if re.MatchString(path) {
				f.dropped(r, &f.stats.filteredPath)
				return false
			}
		}
	}
	for _, fn := range f.funcs {
		if !f.call(ctx, fn, r) {
			f.dropped(r, &f.stats.filteredFunc)
			return false
		}
	}
	return true
}

// pathOfURL returns the path of url.full (scheme://host/path, no query):
// what follows the host, or "" when nothing does.
func pathOfURL(full string) (string, bool) {
	_, rest, ok := strings.Cut(full, "://")
	if !ok {
		return "", false
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i:], true
	}
	return "", true
}

func (f *Filter) dropped(r *sdklog.Record, reason interface{ Add(uint64) uint64 }) {
	reason.Add(1)
	if IsSecurityEvent(r.EventName()) {
		f.stats.filteredSecurity.Add(1)
	}
}

// call runs fn; a panic keeps the record.
func (f *Filter) call(ctx context.Context, fn FilterFunc, r *sdklog.Record) (keep bool) {
	defer func() {
		if p := recover(); p != nil {
			f.stats.filterPanics.Add(1)
			keep = true
		}
	}()
	return fn(ctx, r)
}

// IsSecurityEvent reports whether name is a security event (see
// ARCHITECTURE.md, Invariants): 4xx and 5xx responses, failed logins,
// authz.* and security.* ([semconv.IsSecurityEvent]). These are never
// sampled.
func IsSecurityEvent(name string) bool { return semconv.IsSecurityEvent(name) }
