module github.com/secaudit/secaudit/instrumentation/gin/auditgin

go 1.26.0

replace github.com/secaudit/secaudit => ../../..
