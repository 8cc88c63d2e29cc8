module github.com/secaudit/secaudit/instrumentation/chi/auditchi

go 1.26.0

replace github.com/secaudit/secaudit => ../../..
