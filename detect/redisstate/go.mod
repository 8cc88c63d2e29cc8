module github.com/secaudit/secaudit/detect/redisstate

go 1.26.0

replace github.com/secaudit/secaudit => ../..
