module github.com/secaudit/secaudit/instrumentation/gorm/auditgorm

go 1.26.0

replace github.com/secaudit/secaudit => ../../..
