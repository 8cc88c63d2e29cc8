// Package auditgrpc audits gRPC calls: unary and stream server
// interceptors that give each call one audit event, as the HTTP middleware
// (package instrumentation) gives each request one.
//
// Wiring, with otelgrpc's stats handler so that events carry the trace of
// the call's server span:
//
//	ai, err := auditgrpc.New(auditgrpc.WithAuditor(pipeline.Auditor()))
//	…
//	srv := grpc.NewServer(
//		grpc.StatsHandler(otelgrpc.NewServerHandler()),
//		grpc.ChainUnaryInterceptor(recovery, ai.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(recoveryStream, ai.StreamServerInterceptor()),
//	)
//
// # The call's facts
//
// Before the handler runs, the interceptor places a [secaudit.Request] in
// the call's context (the stream's Context() for streaming calls): a
// generated audit.request_id, client.address and network.peer.address
// from the peer, http.route set to the full method ("/shop.Accounts/Get",
// DESIGN's "rpc.method as the route"), and rpc.system.name="grpc" and
// rpc.method ("shop.Accounts/Get", semantic conventions v1.43, as otelgrpc
// records them on its spans; the service is the method's first part). So
// every event the service emits with the call's context —
// Auditor.LoginFailed(ctx, …), model events, a GORM statement run with
// db.WithContext(ctx) — carries them, and secaudit.SetUser(ctx, …) from an
// authentication interceptor inside this one names the user on all of
// them. No http.request.method or url.path is recorded for a call.
//
// client.address is the peer, unless [WithTrustedProxies] trusts it: then
// it is taken from the x-forwarded-for metadata right to left, skipping
// the trusted hops, never its leftmost entry.
//
// # One event per call
//
// After the handler, the call's status code decides the event, from the
// catalogue's http.response classes, so that sampling, delivery priority,
// filters and dashboards treat a call as they treat a request. The event
// carries rpc.response.status_code (the code's canonical name) and
// audit.duration_ns.
//
//	code                                           event                        severity  audit.outcome
//	OK                                             http.response.success (*)    INFO      success
//	Canceled, InvalidArgument, NotFound,           http.response.client_error   WARNING   failure
//	AlreadyExists, PermissionDenied,
//	ResourceExhausted, FailedPrecondition,
//	Aborted, OutOfRange, Unauthenticated
//	Unknown, DeadlineExceeded, Unimplemented,      http.response.server_error   ERROR     failure
//	Internal, Unavailable, DataLoss; a panic
//
// (*) only with [WithLogOKResponses]; otherwise counted in
// Stats.OKNotLogged. Server errors are the codes OpenTelemetry's gRPC
// conventions count as a server span's error; every other failure is the
// client's doing or the client's to fix. A handler error that is not a
// status error is classed as gRPC sends it: a context error as Canceled
// or DeadlineExceeded, anything else as Unknown.
//
// # Panics
//
// A panicking handler is audited as http.response.server_error with
// exception.type, .message and .stacktrace (scrubbed downstream like every
// attribute). Then, by default, the panic is raised again, as the HTTP
// middleware does: gRPC does not recover handler panics, so the server
// needs a recovery interceptor outside this one (first in the chain),
// which decides what the client receives; the event has no
// rpc.response.status_code then. With [WithRecoverPanics] the interceptor
// recovers itself and the client receives codes.Internal ("internal
// error", nothing of the panic value), recorded as INTERNAL.
//
// Fail open: the interceptors never fail a call; a panic while recording
// is recovered and counted (Stats.AuditPanics).
//
// Configuration is by options only: the interceptors read no environment
// variable (the HTTP middleware's SECAUDIT_LOG_OK_RESPONSES and
// SECAUDIT_TRUSTED_PROXY_* do not apply to them), except that the default
// Auditor (no [WithAuditor]) reads SECAUDIT_INCLUDE_USERNAMES. Successful
// calls are not sampled: with [WithLogOKResponses] each one is an event,
// which the pipeline's sampling processor may still thin out.
package auditgrpc
