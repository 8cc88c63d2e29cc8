// Package viewtest tests secaudit view in a real headless Chromium
// (chromedp); tests only. TestIntegrationViewerInChromium (build tag
// integration) builds secaudit and the demo from the repository, records
// the demo's -traffic output, serves it with secaudit view -trace-url, and
// checks the page against counts of the file: no console error, the
// charts, alerts and blocks, the table, a filter, an expanded row, a trace
// link. It takes a screenshot of the page: into a temporary directory, or
// to VIEWTEST_SCREENSHOT — VIEWTEST_SCREENSHOT=$PWD/docs/viewer.png makes
// the README's picture anew. It finds Chromium through
// SECAUDIT_TEST_CHROMIUM, which .ci/services/chromium start prints:
//
//	.ci/services/chromium install
//	export $(.ci/services/chromium start)
//	go test -tags integration -run Integration ./cmd/secaudit/viewtest
package viewtest
