package main

import (
	"testing"

	"github.com/secaudit/secaudit/internal/testsupport"
)

// TestMain unsets the machine's SECAUDIT_* and OTEL_* variables before the
// tests and fails the run if they leak goroutines (testsupport.Main).
func TestMain(m *testing.M) { testsupport.Main(m) }
