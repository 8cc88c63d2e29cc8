// Package auditecho adapts secaudit's audit middleware to echo v4 (github.com/labstack/echo/v4).
package auditecho
