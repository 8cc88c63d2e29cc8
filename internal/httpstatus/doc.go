// Package httpstatus holds the set of HTTP status codes that the
// middleware and the processor chain's filter both keep for their ignored
// statuses (SECAUDIT_IGNORE_STATUS_CODES): one bit per code, so that a
// lookup on every request costs a shift and a mask.
package httpstatus
