package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/secaudit/secaudit/detect/guard"
	"github.com/secaudit/secaudit/instrumentation"
	"github.com/secaudit/secaudit/setup"
)

// rateLimit is the -rate-limit flag (N/DURATION, as SECAUDIT_RATE_LIMIT):
// the limit of the secaudit-ratelimit mode.
var rateLimit = flag.String("rate-limit", "100/1m", "the rate limit of the secaudit-ratelimit mode (N/DURATION, as SECAUDIT_RATE_LIMIT)")

// parseRateLimit reads N/DURATION; a bare unit (100/s) means one of it.
func parseRateLimit(s string) (int, time.Duration, error) {
	ns, ds, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("-rate-limit=%q: want N/DURATION such as 100/1m", s)
	}
	if ds != "" && (ds[0] < '0' || ds[0] > '9') {
		ds = "1" + ds
	}
	d, err := time.ParseDuration(ds)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("-rate-limit=%q: want N/DURATION such as 100/1m", s)
	}
	return n, d, nil
}

// buildGuarded is the guarded modes (secaudit-block, secaudit-block-default,
// secaudit-ratelimit): setup's whole pipeline (detection on, its default;
// delivery to a rotating JSONL file) with blocking on (SECAUDIT_BLOCK=true)
// and, when limited, the rate limit of -rate-limit (SECAUDIT_RATE_LIMIT);
// the middleware with the pipeline's guard, auditing OK responses too when
// logOK (SECAUDIT_LOG_OK_RESPONSES=true, sample rate 1).
func buildGuarded(h http.Handler, dir string, limited, logOK bool) (http.Handler, func(context.Context, *serverReport) error, error) {
	return buildSetup(h, dir, true, limited, logOK)
}

// buildSetup is setup's whole pipeline (detection on, its default) behind
// the middleware with the pipeline's guard: blocking on when block (else
// the default, off: alerts only), the -rate-limit when limited, OK
// responses audited when logOK. setup-default is it with every default.
func buildSetup(h http.Handler, dir string, block, limited, logOK bool) (http.Handler, func(context.Context, *serverReport) error, error) {
	gopts := []guard.Option{guard.WithEnabled(block)}
	if limited {
		n, per, err := parseRateLimit(*rateLimit)
		if err != nil {
			return nil, nil, err
		}
		gopts = append(gopts, guard.WithRateLimit(n, per))
	}
	p, err := setup.New(context.Background(), setup.WithoutEnv(), setup.WithServiceName("load"),
		setup.WithJSONLPath(filepath.Join(dir, "audit.jsonl")), setup.WithJSONLRotation(64<<20, 2),
		setup.WithGuardOptions(gopts...))
	if err != nil {
		return nil, nil, err
	}
	mopts := []instrumentation.Option{instrumentation.WithAuditor(p.Auditor()), instrumentation.WithGuard(p.Guard()),
		instrumentation.WithoutEnv()}
	if logOK {
		mopts = append(mopts, instrumentation.WithLogOKResponses(true), instrumentation.WithSampleRate(1))
	}
	mw, err := instrumentation.New(mopts...)
	if err != nil {
		return nil, nil, errors.Join(err, p.Shutdown(context.Background()))
	}
	stop := func(ctx context.Context, rep *serverReport) error {
		err := p.Shutdown(ctx)
		for _, dp := range p.Delivery() {
			st := dp.Stats()
			rep.Emitted += st.Emitted
			rep.Exported += st.Exported
			rep.Dropped += st.Dropped
		}
		gs := p.Guard().Stats()
		rep.Refused = uint64(gs.RateLimited + gs.Refused)
		rep.Quiet = uint64(gs.RateQuiet)
		return err
	}
	return mw.Wrap(h), stop, nil
}
