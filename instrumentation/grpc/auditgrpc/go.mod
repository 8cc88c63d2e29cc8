module github.com/secaudit/secaudit/instrumentation/grpc/auditgrpc

go 1.26.0

replace github.com/secaudit/secaudit => ../../..
