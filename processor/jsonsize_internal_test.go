package processor

import (
	"math"

	"go.opentelemetry.io/otel/attribute"

	"github.com/secaudit/secaudit/internal/jsonenc"
)

// The limiter sizes records with internal/jsonenc; its tests here use the
// model under their former names.

const maxScalarSize = jsonenc.MaxScalarSize

func jsonStringSize(s string) int { return jsonenc.StringSize(s) }

func jsonSize(v attribute.Value) int { return jsonenc.Size(v, math.MaxInt, jsonenc.Exact) }
