// Package probe recognises the classic probes and injection attempts in a
// request's path and query: the requests a Go service never legitimately
// receives, worth a security.suspicious_request event.
//
// [Match] checks the raw (escaped) path, the decoded path, the raw query
// and the query decoded once, against an ordered list of rules, and returns
// the name of the first rule that matches. The rules are deliberately
// conservative — each marker is something no ordinary client sends — so the
// event stays a signal, not noise:
//
//   - path_traversal: a ".." path segment, raw or percent-encoded (also with
//     backslashes), in the path or the query
//   - sensitive_file: /etc/passwd, /etc/shadow, /proc/self/environ,
//     win.ini, boot.ini
//   - dotfile_probe: a path segment .env, .git, .svn, .htaccess, .htpasswd,
//     .aws or .ssh
//   - php_probe: a path segment ending in .php (a Go service serves none)
//   - wordpress_probe: wp-admin, wp-login, wp-content, wp-includes, xmlrpc
//   - sql_injection: UNION SELECT, ' OR 1=1 style tautologies, stacked
//     DROP/INSERT/DELETE/UPDATE, SLEEP(n), BENCHMARK(, WAITFOR DELAY,
//     information_schema
//   - script_injection: <script, javascript:, on<event>= handlers inside a
//     tag, <iframe, <svg/onload
//
// [Find] also returns the evidence: the text the rule matched, widened to
// whole words and bounded ([Excerpt], at most [MaxEvidenceRunes] runes). It
// is computed only for a request that matched, so clean requests do not pay
// for it.
//
// Matching is case-insensitive, allocation-free for clean ASCII requests
// without percent escapes, and bounded by the length of the request line.
package probe
