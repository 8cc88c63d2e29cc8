module github.com/secaudit/secaudit/cmd/secaudit/viewtest

go 1.26.0

replace github.com/secaudit/secaudit => ../../..
