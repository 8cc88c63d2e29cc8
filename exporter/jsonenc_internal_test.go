package exporter

import "github.com/secaudit/secaudit/internal/jsonenc"

// The encoder writes strings and floats with internal/jsonenc; its tests
// here check them under their former names.

func appendString(dst []byte, s string) []byte { return jsonenc.AppendString(dst, s) }

func appendFloat(dst []byte, f float64) []byte { return jsonenc.AppendFloat(dst, f) }
