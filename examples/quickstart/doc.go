// Command quickstart is the smallest secaudit program: it emits one
// auth.login.success event as a JSONL line on stdout.
//
//	go run ./examples/quickstart
package main
