// Package grafana holds the Grafana, Loki and Tempo assets of secaudit's
// local stack and of anyone who sends secaudit events to Loki: the data
// source and dashboard provisioning under provisioning/, the "secaudit
// overview" dashboard under dashboards/, and a minimal Tempo config,
// tempo.yaml. docker-compose.yaml at the repository root mounts them into
// the grafana and tempo containers; examples/logql.md explains every query.
//
// Loki receives secaudit's OpenTelemetry log records on its native OTLP
// endpoint: service.name becomes the stream label service_name, and every
// log attribute becomes structured metadata with its dots turned into
// underscores (user.id is user_id, client.address is client_address), next
// to trace_id, span_id and severity_text. The Collector copies the record's
// event name into an event_name attribute because Loki 3.7 drops the OTLP
// EventName field. The dashboard's queries select on those names, and the
// Loki data source turns the trace_id metadata into a link to Tempo, while
// Tempo links a span back to the events of its trace.
//
// The package has no Go API. Grafana cannot run in the test environment, so
// its tests read the assets instead: they parse every file, check the
// dashboard model (data sources, unique panel ids, non-overlapping grid,
// the service variable, the trace link), check that every query uses only
// event names and attribute names secaudit emits and appears verbatim in
// examples/logql.md, check the two-way links between the data sources, and
// check docker-compose.yaml against the files it mounts: ports published on
// 127.0.0.1 only, the same Collector and Loki configs as CI, and the
// environment variables those configs read. The YAML files are read with a
// small parser for the subset of YAML they use, so the module gains no
// dependency.
package grafana
