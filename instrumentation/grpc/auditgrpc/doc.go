// Package auditgrpc audits gRPC calls: unary and stream server interceptors.
package auditgrpc
