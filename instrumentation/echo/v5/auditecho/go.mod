module github.com/secaudit/secaudit/instrumentation/echo/v5/auditecho

go 1.26.0

replace github.com/secaudit/secaudit => ../../../..
