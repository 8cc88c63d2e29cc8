// Command demo is a small bank-like HTTP service instrumented with secaudit:
// the README's main job.
//
//	go run ./examples/demo                 # serve on 127.0.0.1:8080, JSONL events on stdout
//	go run ./examples/demo -traffic 5s     # also drive normal use and attacks, print a summary, exit
//	go run ./examples/demo -router chi     # the same endpoints through chi (or std, gin, echo) and its audit adapter
//
// Users: alice (id 1, password "wonderland", owns account 1) and bob (id 2,
// password "builder", owns account 2). Endpoints:
//
//	GET   /healthz              200 ok
//	GET   /healthz/audit        the audit pipeline's state as JSON (503 when it cannot deliver)
//	POST  /login                {"username","password"} → 200 + cookie "session", or 401
//	POST  /logout               204 (auth.logout.success with a session, .unknown without)
//	GET   /api/accounts/{id}    401 no session, 403 another user's, 404 unknown, 200 own (model.access)
//	PATCH /api/accounts/{id}    JSON → 200 + model.update with the changed field names
//	POST  /api/transfers        JSON → 201 + model.create; 400 on invalid JSON
//	GET   /panic                the handler panics → 500 server_error; the server keeps serving
//	GET   /slow?ms=N            sleeps N ms (at most 10 s)
//
// Accounts and transfers live in GORM on an in-memory SQLite database
// (store.go; nothing on disk) with secaudit's GORM plugin registered: the
// model.update of a PATCH and the model.create of a transfer are the
// plugin's. A PATCH that changes nothing runs no statement and emits no
// model.update.
//
// Events go where the environment says (see the setup package): JSONL on
// stdout by default, a file with SECAUDIT_JSONL_PATH, OTLP with
// OTEL_LOGS_EXPORTER=otlp. A real sdk/trace TracerProvider runs under
// otelhttp and continues an incoming W3C traceparent; spans are exported over
// OTLP when OTEL_TRACES_EXPORTER=otlp or the logs go over OTLP, and dropped
// otherwise. SIGINT and SIGTERM flush every pending event before exit.
package main
