module github.com/secaudit/secaudit/instrumentation/gorilla/auditmux

go 1.26.0

replace github.com/secaudit/secaudit => ../../..
