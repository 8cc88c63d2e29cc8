module github.com/secaudit/secaudit/instrumentation/echo/auditecho

go 1.26.0

replace github.com/secaudit/secaudit => ../../..
