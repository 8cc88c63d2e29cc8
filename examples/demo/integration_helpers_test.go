//go:build integration

package main

import "go.opentelemetry.io/otel/attribute"

type attributeKV = attribute.KeyValue
