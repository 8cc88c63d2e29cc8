// Package sampling holds the one sampling decision shared by the middleware
// (which skips work early) and the sampling processor (which enforces it on
// every record), so both always agree: a trace's OK-response events are kept
// or dropped together.
package sampling
