// Package jsonenc is the one model of how secaudit writes values as JSON:
// the string escaping of the JSONL exporter, its number format, and the
// sizes that follow from them, which the limiter uses to decide whether a
// record fits the exporter's record limit.
//
// Writer and size live side by side so that they cannot disagree: in
// string.go, [AppendString] and [StringSize] share one table of what each
// byte becomes; in scalar.go, [AppendFloat], [AppendBytes] and the bounds
// [MaxScalarSize] and [BytesSize]. The tests check StringSize(s) ==
// len(AppendString(nil, s)) for every input (fuzzed), and [Size] against
// the exporter's output for any attribute value.
//
// [Size] is the one walker over attribute values. It answers two
// questions, chosen by its [Mode]:
//
//   - [Exact]: an upper bound of the bytes the exporter writes for a value,
//     exact for every string and map key (escapes and U+FFFD replacements
//     included); a scalar counts [MaxScalarSize] and every container
//     element one comma more than written (JSON has no trailing comma).
//   - [Raw]: the same walk counting strings, keys and byte slices by their
//     bytes alone, without decoding them: cheap, and never more than 6
//     times less than written, so 6 × Raw bounds the written size. The
//     limiter's read-only probe uses it to let a clean record through.
//
// Both stop walking once past a given limit, so a huge value costs what
// the limit costs, not what the value holds.
package jsonenc
