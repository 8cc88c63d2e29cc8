// Package instrumentation is secaudit's net/http middleware: one audit
// event per request, and the request facts every other audit event of the
// request carries.
//
// [New] builds a [Middleware] from options and the SECAUDIT_* environment;
// [Middleware.Wrap] wraps a handler. [NewMiddleware] and [NewHandler] are
// the same as a func(http.Handler) http.Handler and a wrapped handler. Put
// the middleware inside otelhttp, so that the request context carries the
// server span and every event its trace and span ids:
//
//	audit, err := instrumentation.New(instrumentation.WithAuditor(auditor))
//	if err != nil { ... }
//	srv.Handler = otelhttp.NewHandler(audit.Wrap(mux), "server")
//
// otelhttp needs a TracerProvider to start spans (OpenTelemetry's default
// one is a no-op); setup.WithTracing installs one for a service without
// tracing of its own. When the first request a Middleware audits has no
// span, it says so once through the OTel error handler (otel.Handle):
// its events would carry no trace_id or span_id.
//
// # Per request
//
// A request whose path matches an ignore pattern passes through untouched.
// Patterns match the escaped path, as the request wrote it
// (URL.EscapedPath): routers do not split segments at %2F, so the decoded
// path of /x/1%2F..%2Fhealthz is not the /healthz it seems to be.
// Any other request gets a [secaudit.Request] in its context before the
// handler runs: a generated 32-hex request id (a client's X-Request-Id is
// never used), the client and peer addresses, the method and the path. So
// an auth, model or security event the application emits with the request's
// context (see [secaudit.Auditor]) carries the same request id, addresses
// and trace as the response event. The id and, unless proxies are trusted
// or a guard asks about the address, the addresses are made when first
// asked for — by an event or by [secaudit.RequestFromContext] — with the
// values of the request as it came: a request nobody asks about (a 200
// while OK responses are not audited) costs neither. The application names the acting user
// with [secaudit.SetUser] from its authentication middleware or handler; the
// response event reads it after the handler, so a user resolved during the
// request counts. user.id is always emitted; user.name only when the
// Auditor's usernames are enabled.
//
// After the handler — deferred, so a panicking handler is audited too — the
// middleware emits one http.response.* event through the Auditor:
// success (1xx–2xx) and redirect (3xx) at INFO only when OK responses are
// logged and kept by sampling (decided per trace id by the same rule as the
// sampling processor, and recorded as audit.sample_rate), client_error (4xx) at WARNING
// and server_error (5xx) at ERROR always, unless the status is ignored. A
// panic is a server_error with exception.type, exception.message and
// exception.stacktrace (the processor chain scrubs them), and the panic
// continues; http.ErrAbortHandler is not treated as an error. The event
// carries http.response.status_code, url.full (scheme://host/path, no
// query), user_agent.original, audit.duration_ns (handler time), and, when
// enabled, url.query (the raw query, [WithURLQuery]), audit.request.body or
// its parse status and session.id, besides the request facts the Auditor
// adds. The processor chain scrubs them all.
//
// With [WithSuspiciousRequests], a request whose path or query matches a
// probe or injection rule also yields a security.suspicious_request event
// before the response event, with the rule in security_rule.name and what it
// matched in audit.evidence (the matched text widened to whole words, at
// most 64 runes).
//
// # Client address
//
// network.peer.address is the socket peer. client.address is the peer too,
// unless trusted proxies are configured: then X-Forwarded-For is read right
// to left, every hop must be inside a trusted network, and the client is the
// entry the count of trusted proxies points at; anything unverifiable falls
// back to the peer. The leftmost entry, which the client controls, is never
// taken on trust. IPv6 zone ids are dropped.
//
// # Route
//
// http.route is the pattern the router matched, on the response event and
// on every event emitted during the request. The middleware can sit
// outermost — outside authentication, rate limiting and the router — and
// still learn it: the request facts in the context ([secaudit.Request], a
// pointer shared by every copy of the request) are a holder that inner
// layers fill, the router's route as much as the user the authentication
// layer names with [secaudit.SetUser].
//
// For net/http's ServeMux the route is the pattern without method and host
// ("/api/accounts/{id}"). A Go 1.22 ServeMux records the pattern on the
// request before it calls the handler, and the request facts read it from
// there (secaudit.Request.SetPatternSource), so events the application emits
// during the request carry the route without a second routing pass; with
// nested muxes that pass the request on, the innermost pattern wins. When
// middlewares between the audit middleware and the mux pass copies of the
// request on, wrap the mux in [Route].
//
// The adapters, each a module of its own so that this module never
// requires a router, do the same for other routers with one router
// middleware: instrumentation/chi/auditchi (/accounts/{id}),
// instrumentation/gin/auditgin and instrumentation/echo/auditecho (echo
// v4; instrumentation/echo/v5/auditecho for v5) (/accounts/:id) and
// instrumentation/gorilla/auditmux (the route's path template). Any other
// router calls secaudit.RequestForUpdate(ctx).SetRoute(pattern) from a
// middleware that runs after matching, or records a
// [secaudit.RouteSource]; [WithRouteFunc] gives the route of the response
// event only.
//
// A request the router did not match (404, 405) has no route, whatever
// the router: detection's scanner rule counts 404s without http.route. A
// request answered before routing (a 401 from authentication in front of
// the router, a 429 from the guard) has the route only where the router
// knows it already (the adapters say when).
//
// # Request bodies
//
// Opt-in capture ([WithRequestBodies]) records allowlisted top-level fields
// of JSON bodies as audit.request.body, or why it could not
// (audit.request.body.parse_status: too_large, invalid_json,
// unsupported_shape). Forms and multipart bodies are never touched; a
// declared Content-Length above the cap is not read at all; at most cap+1
// bytes are read, and the handler still reads the complete body. Values are
// scrubbed by the processor chain, like every attribute; keep the allowlist
// to fields an auditor needs.
//
// # Configuration
//
// Each option has an environment variable, used when the option is not
// given (option > environment > default; an explicit false, 0 or empty list
// is a value, which the variable does not override); a bad value fails [New]
// with an error naming the variable or the option
// (secaudit: SECAUDIT_SAMPLE_RATE="2": want a number from 0 to 1).
// [WithoutEnv] ignores the environment, the default Auditor's included:
//
//	SECAUDIT_LOG_OK_RESPONSES      WithLogOKResponses      default false
//	SECAUDIT_LOG_QUERY             WithURLQuery            default false
//	SECAUDIT_SAMPLE_RATE           WithSampleRate          default 1
//	SECAUDIT_SAMPLE_KEY            (the sampling key)      secret, >= 16 characters;
//	                                                       default random per process
//	SECAUDIT_IGNORE_PATHS          WithIgnorePaths         list of RE2 (below)
//	SECAUDIT_IGNORE_STATUS_CODES   WithIgnoreStatusCodes   e.g. 301,302
//	SECAUDIT_TRUSTED_PROXY_CIDRS   WithTrustedProxies      set with the count
//	SECAUDIT_TRUSTED_PROXY_COUNT   WithTrustedProxies      int >= 1
//	SECAUDIT_LOG_REQUEST_BODIES    WithRequestBodies       default false
//	SECAUDIT_BODY_FIELDS           WithBodyFields          required for capture
//	SECAUDIT_BODY_PATHS            WithBodyPaths           list of RE2; default all
//	SECAUDIT_MAX_BODY_BYTES        WithMaxBodyBytes        default 4096
//	SECAUDIT_EMIT_SESSION_ID       WithSessionIDs          default: on with a source
//	SECAUDIT_INCLUDE_USERNAMES     (the default Auditor's secaudit.WithUsernames)
//	SECAUDIT_DELIVERY_STRICT_ROUTES  WithStrictRoutes    list of RE2; needs WithGate
//
// [WithSessionIDSource] and [WithSuspiciousRequests] have no variable.
//
// A list of RE2 regular expressions (SECAUDIT_IGNORE_PATHS,
// SECAUDIT_BODY_PATHS, SECAUDIT_DELIVERY_STRICT_ROUTES) is a JSON array of
// strings when the value starts with "[" (["^/a,b$", "^/v[0-9]{1,}/"]);
// otherwise it is split at the commas outside {…}, […] and (…) and not
// escaped by a backslash, so ^/static/[a-z]{2,}/,^/healthz$ is two
// patterns and ^/a\,b$ one that matches "/a,b". Each pattern must compile
// alone.
//
// # Failure
//
// The audit path never fails a request: panics in the route func or the
// session id source are recovered and counted, the Auditor recovers panics
// of the log pipeline, and the handler's own panics go on unchanged.
// [Middleware.Stats] counts requests, ignored and sampled-out responses,
// emitted events and recovered panics.
//
// This package depends on the OpenTelemetry Logs API only; export is the
// LoggerProvider's business.
package instrumentation
